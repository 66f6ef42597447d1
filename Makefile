# Kairos developer entry points. Every target sets itself up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench manifests schemas clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## run: the whole system on embedded Postgres + Tansu, with a live view
run: $(STAMP)
	@if [ -x scripts/ensure-test-tools.sh ]; then scripts/ensure-test-tools.sh localstack; fi
	$(VENV)/bin/kairos dev $(ARGS)

## test: the whole test suite against real Postgres, broker and venue simulator
test: $(STAMP)
	@if [ -x scripts/ensure-test-tools.sh ]; then scripts/ensure-test-tools.sh; fi
	$(PY) -m pytest $(ARGS)

## lint: ruff + mypy over shared/, tests/, bench/ and every functions/* project (scripts/lint.sh)
lint: $(STAMP)
	KAIROS_BIN=$(VENV)/bin scripts/lint.sh

## bench: the benchmarks under bench/ (numbers go to docs/PERFORMANCE.md by hand)
bench: $(STAMP)
	$(PY) -m bench $(ARGS)

## manifests: regenerate k8s/knative/ and functions' func.yaml from the catalog; vendor the kairos wheel into functions/*/vendor/
manifests: $(STAMP)
	$(VENV)/bin/kairos manifests
	$(VENV)/bin/kairos manifests --wheel

## schemas: regenerate schemas/ from the pydantic models
schemas: $(STAMP)
	$(VENV)/bin/kairos schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# --- Operator path: Hetzner + k3s + platform + app (docs/OPERATIONS.md) -------------------
# Each target reruns safely; settings come from scripts/hetzner/bootstrap-secrets.env.
.PHONY: bootstrap infra-up platform-up images deploy cluster-status infra-down

## bootstrap: everything below in order, from an empty Hetzner project to a running app
bootstrap: $(STAMP)
	scripts/bootstrap.sh

## infra-up: terraform apply, wait for k3s, write .state/hetzner/kubeconfig.yaml
infra-up:
	scripts/bootstrap.sh infra-up

## platform-up: Secrets, then Knative, Kafka (Strimzi), Postgres (CloudNativePG), pinned
platform-up: $(STAMP)
	scripts/bootstrap.sh secrets platform-up

## images: build and push one image per function
images: $(STAMP)
	scripts/bootstrap.sh build

## deploy: images, app layer and Knative manifests, then wait for the rollout
deploy: $(STAMP)
	scripts/bootstrap.sh build deploy

## cluster-status: nodes, Kafka, Postgres and Knative Services at a glance
cluster-status:
	scripts/bootstrap.sh status

## infra-down: destroy the Hetzner resources (asks first; FORCE=1 to skip the question)
infra-down:
	scripts/bootstrap.sh infra-down

## infra-check: the offline checks of Terraform, cloud-init, manifests, scripts (tests/infra)
.PHONY: infra-check
infra-check: $(STAMP)
	@scripts/ensure-test-tools.sh
	$(PY) -m pytest tests/infra $(ARGS)
