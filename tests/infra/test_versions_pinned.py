"""Versions are pinned in ONE place (k8s/platform/versions.conf) and everything uses it.

Drift is caught three ways: (1) no file outside versions.conf spells a version of a pinned
component (any version, so a stale copy fails too), except the Terraform provider pins
Terraform cannot take from a variable, which must equal the file; (2) every pin is used
by name somewhere (no dead pins); (3) the values land where they should after rendering.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kairos_testkit.infra_files import PLATFORM, SCRIPTS, TF_DIR, render_kustomization, versions
from kairos_testkit.paths import REPO

EXPECTED_KEYS = {
    "K3S_VERSION",
    "HCLOUD_PROVIDER_VERSION",
    "RANDOM_PROVIDER_VERSION",
    "TERRAFORM_MIN_VERSION",
    "KNATIVE_SERVING_VERSION",
    "NET_KOURIER_VERSION",
    "KNATIVE_EVENTING_VERSION",
    "EVENTING_KAFKA_VERSION",
    "STRIMZI_VERSION",
    "KAFKA_VERSION",
    "CNPG_VERSION",
    "POSTGRES_IMAGE",
    "KEDA_VERSION",
    "PYTHON_BASE_IMAGE",
    "PROMETHEUS_IMAGE",
    "GRAFANA_IMAGE",
    "FORGEJO_IMAGE",
}

# Spellings of a pinned component's version outside versions.conf: each one is drift.
DRIFT_PATTERNS = {
    "k3s release": re.compile(r"v\d+\.\d+\.\d+\+k3s\d+"),
    "Knative release tag": re.compile(r"knative-v\d"),
    "release download with a literal version": re.compile(r"releases/download/v?\d"),
    "Strimzi bundle": re.compile(r"strimzi-cluster-operator-\d"),
    "CloudNativePG bundle": re.compile(r"cnpg-\d"),
    "KEDA bundle": re.compile(r"keda-\d"),
    "Postgres image tag": re.compile(r"cloudnative-pg/postgresql:\d"),
    "Python image tag": re.compile(r"\bpython:\d"),
    "Kafka version field": re.compile(r"^\s*version:\s*['\"]?\d+\.\d+", re.M),
    "hcloud provider version": re.compile(r"hcloud[^\n]*\d+\.\d+\.\d+"),
}

# Files Terraform forces to repeat a pin (no variables in required_providers): not scanned
# for drift; test_terraform_module compares their literals with versions.conf instead.
TERRAFORM_PIN_FILES = {TF_DIR / "versions.tf"}


def _scanned_files() -> list[Path]:
    roots = [REPO / "infra", REPO / "k8s" / "platform", REPO / "k8s" / "app", SCRIPTS]
    files = [p for root in roots for p in root.rglob("*") if p.is_file() and ".terraform" not in p.parts]
    # LocalStack's PyPI constraints pin Python packages, not the platform: "hpack==4.2.0" is not Kafka.
    pypi_pins = {SCRIPTS / "localstack" / "constraints.txt"}
    return sorted(
        p for p in files if p != PLATFORM / "versions.conf" and p not in TERRAFORM_PIN_FILES and p not in pypi_pins
    )


def test_versions_file_has_every_pin_and_each_is_exact() -> None:
    pins = versions()
    assert set(pins) == EXPECTED_KEYS
    for key, value in pins.items():
        assert value and "latest" not in value, f"{key} is not pinned"
        if key.endswith("_VERSION"):
            assert re.fullmatch(r"v?\d+\.\d+\.\d+(\+k3s\d+)?", value), f"{key}={value} is not an exact version"
        else:
            assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+[\w.-]*", value), f"{key}={value} is not an image:exact-tag"


@pytest.mark.parametrize("path", _scanned_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_file_spells_a_pinned_version(path: Path) -> None:
    text = path.read_text(errors="replace")
    for what, pattern in DRIFT_PATTERNS.items():
        match = pattern.search(text)
        assert match is None, f"{what} spelled out ({match[0]!r}); take it from k8s/platform/versions.conf"
    for key, value in versions().items():
        if key == "TERRAFORM_MIN_VERSION":
            continue
        # A whole version only: "service-identity==24.2.0" does not spell KAFKA_VERSION 4.2.0.
        copied = re.search(rf"(?<![\w.]){re.escape(value)}(?![\w])", text)
        assert copied is None, f"{key}'s value {value} copied here; read it from versions.conf"


def test_every_pin_is_used_by_name() -> None:
    corpus = "\n".join(p.read_text(errors="replace") for p in [*_scanned_files(), *TERRAFORM_PIN_FILES])
    for key in versions():
        assert re.search(rf"\b{key}\b", corpus), f"{key} is pinned but nothing reads it"


def test_platform_manifests_take_versions_from_the_file() -> None:
    pins = versions()
    docs = {(d["kind"], d["metadata"]["name"]): d for d in render_kustomization(PLATFORM)}
    assert docs[("Kafka", "kairos")]["spec"]["kafka"]["version"] == pins["KAFKA_VERSION"]
    assert docs[("Cluster", "kairos-pg")]["spec"]["imageName"] == pins["POSTGRES_IMAGE"]
    for name in ("prometheus", "grafana"):
        (container,) = docs[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == pins[f"{name.upper()}_IMAGE"]
    assert not any(d["kind"] == "ConfigMap" and d["metadata"]["name"] == "pinned-versions" for d in docs.values())


def test_scripts_and_terraform_read_the_file() -> None:
    common = (SCRIPTS / "lib" / "common.sh").read_text()
    assert 'VERSIONS_FILE="$KAIROS_ROOT/k8s/platform/versions.conf"' in common
    assert 'source "$VERSIONS_FILE"' in common
    bootstrap = (SCRIPTS / "bootstrap.sh").read_text()
    for key in versions():
        if key.endswith(("PROVIDER_VERSION", "K3S_VERSION", "KAFKA_VERSION", "POSTGRES_IMAGE")) or key in (
            "PROMETHEUS_IMAGE",
            "GRAFANA_IMAGE",
        ):
            continue  # Terraform / kustomize consumers
        assert f"${key}" in bootstrap or f"${{{key}}}" in bootstrap, f"bootstrap.sh does not use {key}"
    assert "k8s/platform/versions.conf" in (TF_DIR / "main.tf").read_text()
    dockerfile = (SCRIPTS / "function.Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_BASE_IMAGE$", dockerfile, re.M), "base image is a build arg without default"
    assert "PYTHON_BASE_IMAGE=$PYTHON_BASE_IMAGE" in bootstrap


def test_validator_default_kubernetes_version_follows_k3s() -> None:
    from kairos.deploy import DEFAULT_KUBERNETES_VERSION
    from kairos_testkit.infra_files import kubernetes_minor

    assert kubernetes_minor() == DEFAULT_KUBERNETES_VERSION, "update kairos.deploy.validate with K3S_VERSION"
