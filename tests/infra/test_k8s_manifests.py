"""k8s/platform and k8s/app: every manifest validates (CRD strict or Kubernetes schemas),
kustomizations list every file, Secret templates hold no values, network policies say
what the issue asks (only executor/reconciler reach the internet; only functions reach
Postgres), and they agree with the catalog when it is there."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kairos.deploy import validate_documents, validate_manifest
from kairos_testkit.infra_files import APP, PLATFORM, kubernetes_minor, load_yaml_docs, render_kustomization, tool
from kairos_testkit.paths import REPO

# Kinds whose CRD is not in ../shared/k8s-crds; checked by _check_without_crd instead.
NO_CRD_OFFLINE = {("postgresql.cnpg.io/v1", "ScheduledBackup")}
# Only the executor and the reconciler reach the internet with venue keys; the catalog adds
# the clock guard (venues' public server time), candles-cron (public klines), the alert relay
# (the operators' webhook) and archive-flush (an object store outside the cluster): none of
# them holds a venue key.
INTERNET_FUNCTIONS = {"executor", "reconciler", "clock-guard", "alert-relay", "candles-cron", "archive-flush"}


def _manifest_files() -> list[Path]:
    files = [p for p in sorted([*PLATFORM.rglob("*.yaml"), *APP.rglob("*.yaml")]) if p.name != "kustomization.yaml"]
    assert files
    return files


def _check_without_crd(doc: dict[str, Any]) -> list[str]:
    spec = doc.get("spec", {})
    if doc["kind"] == "ScheduledBackup":
        problems = [] if len(str(spec.get("schedule", "")).split()) == 6 else ["schedule needs 6 fields"]
        if spec.get("cluster", {}).get("name") != "kairos-pg":
            problems.append("cluster.name must be kairos-pg")
        if set(spec) - {"schedule", "immediate", "backupOwnerReference", "method", "cluster"}:
            problems.append(f"unexpected fields {set(spec)}")
        return problems
    return [f"no offline check for {doc['kind']}"]


def _validate(docs: list[dict[str, Any]], crds: Path) -> list[str]:
    errors: list[str] = []
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in NO_CRD_OFFLINE:
            errors.extend(_check_without_crd(doc))
        else:
            errors.extend(validate_manifest(doc, crds, kubernetes_version=kubernetes_minor()))
    return errors


def test_every_manifest_file_validates(shared_brief: Path) -> None:
    crds = shared_brief / "k8s-crds"
    errors: list[str] = []
    for path in _manifest_files():
        errors.extend(f"{path.relative_to(REPO)}: {e}" for e in _validate(load_yaml_docs(path), crds))
    assert errors == []


@pytest.mark.parametrize("layer", [PLATFORM, PLATFORM / "keda", APP], ids=lambda p: str(p.relative_to(REPO)))
def test_rendered_kustomization_validates(layer: Path, shared_brief: Path) -> None:
    assert _validate(render_kustomization(layer), shared_brief / "k8s-crds") == []


@pytest.mark.parametrize("layer", [PLATFORM, PLATFORM / "keda", APP], ids=lambda p: str(p.relative_to(REPO)))
def test_kubectl_kustomize_agrees_with_the_test_renderer(layer: Path, shared_brief: Path) -> None:
    kubectl = tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (optional: the Python renderer covers the same subset)")
    proc = subprocess.run([kubectl, "kustomize", str(layer)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    real = [d for d in yaml.safe_load_all(proc.stdout) if d]

    def key(d: dict[str, Any]) -> tuple[str, str, str]:
        return d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]

    assert sorted(real, key=key) == sorted(render_kustomization(layer), key=key)
    assert validate_documents(
        [d for d in real if (d["apiVersion"], d["kind"]) not in NO_CRD_OFFLINE],
        shared_brief / "k8s-crds",
        kubernetes_version=kubernetes_minor(),
    ) == []


def test_kustomizations_list_every_manifest() -> None:
    listed: set[Path] = set()
    for kust in [*PLATFORM.rglob("kustomization.yaml"), *APP.glob("kustomization.yaml")]:
        listed |= {(kust.parent / r).resolve() for r in yaml.safe_load(kust.read_text()).get("resources", [])}
    templates = set((APP / "secrets").glob("*.yaml"))
    orphans = [p for p in _manifest_files() if p.resolve() not in listed and p not in templates]
    assert orphans == [], "manifests no kustomization applies"


def test_secret_templates_hold_no_values() -> None:
    templates = sorted((APP / "secrets").glob("*.yaml"))
    assert templates
    for path in templates:
        for doc in load_yaml_docs(path):
            assert doc["kind"] == "Secret" and "data" not in doc, path
            assert doc["stringData"] and all(v == "" for v in doc["stringData"].values()), f"{path} holds a value"
            assert doc["metadata"]["annotations"]["kairos.dev/env-prefix"], path
    for path in [*PLATFORM.rglob("*.yaml"), *APP.glob("*.yaml")]:
        assert all(d.get("kind") != "Secret" for d in load_yaml_docs(path)), f"{path}: Secrets belong in templates"


def test_env_file_example_names_every_secret_variable() -> None:
    example = (REPO / "scripts" / "hetzner" / "bootstrap-secrets.env.example").read_text()
    for path in sorted((APP / "secrets").glob("*.yaml")):
        for doc in load_yaml_docs(path):
            prefix = doc["metadata"]["annotations"]["kairos.dev/env-prefix"]
            for key in doc["stringData"]:
                assert f"\n{prefix}{key}=" in example, f"{prefix}{key} missing from bootstrap-secrets.env.example"


def _policies() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in load_yaml_docs(APP / "network-policies.yaml")}


def _egress_to_internet(policy: dict[str, Any]) -> list[dict[str, Any]]:
    rules = policy["spec"].get("egress", [])
    return [r for r in rules if any("ipBlock" in t for t in r.get("to", [])) or "to" not in r]


def test_default_deny_covers_every_pod() -> None:
    deny = _policies()["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny


def test_only_venue_facing_functions_reach_the_internet_on_443() -> None:
    openers = {name: p for name, p in _policies().items() if _egress_to_internet(p)}
    assert set(openers) == {"venue-egress-https", "sources-egress", "postgres-egress"}
    selector = openers["venue-egress-https"]["spec"]["podSelector"]["matchExpressions"]
    assert selector == [{"key": "serving.knative.dev/service", "operator": "In", "values": sorted(INTERNET_FUNCTIONS)}]
    for name, policy in openers.items():
        for rule in _egress_to_internet(policy):
            ports = {(p["protocol"], p["port"]) for p in rule["ports"]}
            allowed = {("TCP", 443), ("TCP", 6443)} if name == "postgres-egress" else {("TCP", 443)}
            assert ports <= allowed, f"{name} opens {ports}"
            for target in rule.get("to", []):
                assert "169.254.0.0/16" in target["ipBlock"]["except"], "the metadata service must stay closed"
    # Non-function workloads that open 443 are not Knative Services.
    for name in ("sources-egress", "postgres-egress"):
        assert "serving.knative.dev/service" not in str(openers[name]["spec"]["podSelector"])


def test_only_functions_reach_postgres() -> None:
    ingress = _policies()["postgres-ingress"]["spec"]
    assert ingress["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "kairos-pg"}}
    peers = [peer for rule in ingress["ingress"] for peer in rule["from"]]
    functions = {"podSelector": {"matchExpressions": [{"key": "serving.knative.dev/service", "operator": "Exists"}]}}
    itself = {"podSelector": {"matchLabels": {"cnpg.io/cluster": "kairos-pg"}}}
    operator = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cnpg-system"}}}
    assert all(p in (functions, itself, operator) for p in peers), peers
    assert functions in peers


def test_policies_agree_with_the_catalog() -> None:
    path = REPO / "shared" / "kairos" / "catalog" / "catalog.yaml"
    if not path.exists():
        pytest.skip("no catalog yet (shared/kairos/catalog/catalog.yaml)")
    catalog = yaml.safe_load(path.read_text())
    assert catalog["namespace"] == "kairos", "k8s/app and the platform assume the kairos namespace"
    wants_internet = {f["name"] for f in catalog["functions"] if f.get("internet")}
    assert wants_internet <= INTERNET_FUNCTIONS, (
        f"{wants_internet - INTERNET_FUNCTIONS} want the internet: only {INTERNET_FUNCTIONS} may "
        "(add it to venue-egress-https in k8s/app/network-policies.yaml only if the issue's rule allows)"
    )
    sources = {s["name"] for s in catalog.get("sources", [])}
    allowed_sources = set(_policies()["sources-egress"]["spec"]["podSelector"]["matchExpressions"][0]["values"])
    assert sources <= allowed_sources, f"sources without an egress policy: {sources - allowed_sources}"


def test_platform_pieces_are_where_the_app_expects_them() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in render_kustomization(PLATFORM)}
    kafka = docs[("Kafka", "kairos")]
    pool = docs[("KafkaNodePool", "dual-role")]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "kairos"
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}, "single-node KRaft: one dual-role node"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False, "topics come from the catalog"
    runtime = load_yaml_docs(APP / "runtime-config.yaml")[0]["data"]
    assert runtime["KAFKA_BOOTSTRAP_SERVERS"].startswith("kairos-kafka-bootstrap.kafka.svc")
    pg = docs[("Cluster", "kairos-pg")]
    assert pg["metadata"]["namespace"] == "kairos"
    creds = pg["spec"]["backup"]["barmanObjectStore"]["s3Credentials"]
    assert {c["name"] for c in creds.values()} == {"kairos-pg-backup-s3"}, "backup credentials by Secret reference"
    assert docs[("ConfigMap", "config-network")]["data"]["ingress-class"].startswith("kourier.")


def test_generated_knative_manifests_validate_when_present(shared_brief: Path) -> None:
    """The app layer includes the generated k8s/knative/ (issue 6: every app manifest)."""
    files = sorted((REPO / "k8s" / "knative").rglob("*.yaml"))
    files = [p for p in files if p.name != "kustomization.yaml"]
    if not files:
        pytest.skip("k8s/knative/ has no generated manifests yet (make manifests)")
    crds = shared_brief / "k8s-crds"
    errors: list[str] = []
    for path in files:
        errors.extend(f"{path.relative_to(REPO)}: {e}" for e in _validate(load_yaml_docs(path), crds))
    assert errors == []


def test_every_secret_the_catalog_names_has_a_template() -> None:
    path = REPO / "shared" / "kairos" / "catalog" / "catalog.yaml"
    if not path.exists():
        pytest.skip("no catalog yet (shared/kairos/catalog/catalog.yaml)")
    catalog = yaml.safe_load(path.read_text())
    named = {s for f in catalog["functions"] for s in f.get("secrets", [])}
    templated = {d["metadata"]["name"] for p in (APP / "secrets").glob("*.yaml") for d in load_yaml_docs(p)}
    generated = {"kairos-pg-app"}  # CloudNativePG creates it
    assert named <= templated | generated, f"Secrets without a template in k8s/app/secrets: {named - templated}"


def test_generated_manifests_follow_the_deploy_contract_when_present() -> None:
    """What scripts/bootstrap.sh deploy and the platform assume (docs/PLATFORM.md, app contract)."""
    files = [p for p in sorted((REPO / "k8s" / "knative").rglob("*.yaml")) if p.name != "kustomization.yaml"]
    docs = [d for p in files for d in load_yaml_docs(p)]
    if not docs:
        pytest.skip("k8s/knative/ has no generated manifests yet (make manifests)")
    problems = []
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "KafkaTopic":
            if doc["metadata"].get("namespace") != "kafka":
                problems.append(f"{name}: KafkaTopics live in namespace kafka (the Topic Operator's)")
            if doc["metadata"].get("labels", {}).get("strimzi.io/cluster") != "kairos":
                problems.append(f"{name}: needs label strimzi.io/cluster=kairos")
        elif doc["kind"] == "Service" and doc["apiVersion"].startswith("serving.knative.dev/"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                image = container["image"]
                if not re.fullmatch(r"kairos-[a-z0-9-]+", image):
                    problems.append(f"{name}: image {image!r} is not kairos-<function> (deploy rewrites those)")
    assert problems == []
