"""Each ``functions/<name>/func.yaml`` says what its Knative Service says."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from kairos.catalog.model import load_catalog
from kairos_testkit.manifests import base_docs, by_kind
from kairos_testkit.paths import REPO

CATALOG = load_catalog()
_TEMPLATE = re.compile(r"^\{\{ (secret|configMap):([a-z0-9-]+)(?::([A-Za-z0-9_.-]+))? \}\}$")


def _func_env(envs: list[dict[str, str]]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """func's run.envs -> (name -> literal or (kind, object, key)), [(kind, object) mounted whole]."""
    named: dict[str, Any] = {}
    whole: list[tuple[str, str]] = []
    for entry in envs:
        match = _TEMPLATE.match(entry["value"])
        if "name" not in entry:
            assert match and match[3] is None, f"an entry without name must mount a whole object: {entry}"
            whole.append((match[1], match[2]))
        elif match:
            named[entry["name"]] = (match[1], match[2], match[3])
        else:
            named[entry["name"]] = entry["value"]
    return named, whole


def _service_env(container: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    named: dict[str, Any] = {}
    for entry in container["env"]:
        ref = entry.get("valueFrom", {})
        if "secretKeyRef" in ref:
            named[entry["name"]] = ("secret", ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
        elif "configMapKeyRef" in ref:
            named[entry["name"]] = ("configMap", ref["configMapKeyRef"]["name"], ref["configMapKeyRef"]["key"])
        else:
            named[entry["name"]] = entry["value"]
    kinds = {"secretRef": "secret", "configMapRef": "configMap"}
    whole = [(kinds[key], value["name"]) for ref in container["envFrom"] for key, value in ref.items()]
    return named, whole


@pytest.mark.parametrize("fn", CATALOG.functions, ids=lambda f: f.name)
def test_func_yaml_agrees_with_its_service(fn: Any) -> None:
    path = REPO / "functions" / fn.name / "func.yaml"
    func = yaml.safe_load(path.read_text())
    svc = next(d for d in by_kind(base_docs(), "Service") if d["metadata"]["name"] == fn.name)
    template = svc["spec"]["template"]
    (container,) = template["spec"]["containers"]
    notes = template["metadata"]["annotations"]
    deploy = func["deploy"]

    invoke = "http" if fn.kind == "http" else "cloudevent"  # an HTTP function (the operator API) answers requests
    assert (func["name"], func["runtime"], func["invoke"]) == (svc["metadata"]["name"], "python", invoke)
    assert func["namespace"] == deploy["namespace"] == svc["metadata"]["namespace"]
    assert func["specVersion"] and func["created"]
    scale = deploy["options"]["scale"]
    assert str(scale["min"]) == notes["autoscaling.knative.dev/min-scale"]
    assert str(scale["max"]) == notes["autoscaling.knative.dev/max-scale"]
    assert scale["metric"] == notes["autoscaling.knative.dev/metric"]
    assert str(scale["target"]) == notes["autoscaling.knative.dev/target"]
    resources = deploy["options"]["resources"]
    assert resources["limits"].pop("concurrency") == template["spec"]["containerConcurrency"]
    assert resources == container["resources"]
    assert deploy["healthEndpoints"] == {
        "liveness": container["livenessProbe"]["httpGet"]["path"],
        "readiness": container["readinessProbe"]["httpGet"]["path"],
    }
    assert {label["key"]: label["value"] for label in deploy["labels"]} == svc["metadata"]["labels"]
    assert _func_env(func["run"]["envs"]) == _service_env(container)


def test_every_function_directory_has_a_func_yaml_and_nothing_else_does() -> None:
    directories = {p.name for p in (REPO / "functions").iterdir() if (p / "function" / "func.py").is_file()}
    with_yaml = {p.parent.name for p in (REPO / "functions").glob("*/func.yaml")}
    assert with_yaml == directories == {fn.name for fn in CATALOG.functions}


# The field sets of knative/func's schema/func_yaml-schema.json (every object there is closed).
_FUNC_FIELDS: dict[str, set[str]] = {
    "": {"specVersion", "name", "domain", "runtime", "registry", "image", "namespace", "created", "invoke"}
    | {"build", "run", "deploy"},
    "run": {"volumes", "envs", "startTimeout"},
    "deploy": {"namespace", "image", "annotations", "options", "labels", "healthEndpoints"}
    | {"serviceAccountName", "subscriptions"},
    "deploy.options": {"scale", "resources"},
    "deploy.options.scale": {"min", "max", "metric", "target", "utilization"},
    "deploy.options.resources": {"requests", "limits"},
    "deploy.options.resources.requests": {"cpu", "memory"},
    "deploy.options.resources.limits": {"cpu", "memory", "concurrency"},
    "deploy.healthEndpoints": {"liveness", "readiness"},
}


@pytest.mark.parametrize("fn", CATALOG.functions, ids=lambda f: f.name)
def test_func_yaml_uses_only_fields_func_knows(fn: Any) -> None:
    func = yaml.safe_load((REPO / "functions" / fn.name / "func.yaml").read_text())
    for where, allowed in _FUNC_FIELDS.items():
        node = func
        for part in filter(None, where.split(".")):
            node = node.get(part, {})
        assert set(node) <= allowed, f"{where or '<root>'}: unknown {set(node) - allowed}"
    assert func["invoke"] in ("http", "cloudevent")
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", func["name"])
    for entry in func["run"]["envs"]:
        assert set(entry) <= {"name", "value"} and "value" in entry
    for label in func["deploy"]["labels"]:
        assert set(label) == {"key", "value"}
