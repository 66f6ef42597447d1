"""``kairos manifests --kn`` yields the same wiring as the generated YAML manifests.

The script is parsed back (shlex, then the kn flags and the kubectl merge patches) into
Services, KafkaSources and PingSources, and each is compared field by field with the
object :func:`kairos.deploy.manifests.base_documents` generates from the same catalog.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from typing import Any

import pytest
from kairos.catalog.model import load_catalog
from kairos.deploy.kn import NON_KN_SELECTOR, kn_script
from kairos.deploy.manifests import base_documents
from kairos.deploy.manifests_knative import DeploySettings

Obj = dict[str, Any]


def _flags(words: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Positional words and ``--flag value`` pairs (``--force`` takes no value)."""
    positional: list[str] = []
    flags: dict[str, list[str]] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--force":
            flags.setdefault(w, []).append("")
            i += 1
        elif w.startswith("--") or (w == "-p" or w == "-n" or w == "-l" or w == "-f"):
            flags.setdefault(w, []).append(words[i + 1])
            i += 2
        else:
            positional.append(w)
            i += 1
    return positional, flags


def _kv(pairs: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in pairs.split(","))


def _merge(into: Obj, patch: Obj) -> None:
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def parse(script: str) -> dict[tuple[str, str], Obj]:
    """(kind, name) -> the object the commands create, in the manifests' shape."""
    objs: dict[tuple[str, str], Obj] = {}
    for raw in script.splitlines():
        if not raw or raw.startswith(("#", ":", "set ")) or "kustomize" in raw:
            continue
        words = shlex.split(raw.replace("${REGISTRY}", "REG").replace("${IMAGE_TAG}", "TAG"))
        pos, f = _flags(words)
        if pos[:3] == ["kn", "service", "create"]:
            env: list[Obj] = []
            for item in f["--env-value-from"]:
                name, ref = item.split("=", 1)
                _, secret, key = ref.split(":")
                env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
            env += [{"name": e.split("=", 1)[0], "value": e.split("=", 1)[1]} for e in f.get("--env", [])]
            env_from = [
                {"configMapRef": {"name": v.split(":", 1)[1]}}
                if v.startswith("config-map:")
                else {"secretRef": {"name": v.split(":", 1)[1]}}
                for v in f["--env-from"]
            ]
            labels = dict(label.split("=", 1) for label in f["--label"])
            objs[("Service", pos[3])] = {
                "namespace": f["--namespace"][0],
                "labels": labels,
                "annotations": {
                    "autoscaling.knative.dev/min-scale": f["--scale-min"][0],
                    "autoscaling.knative.dev/max-scale": f["--scale-max"][0],
                    "autoscaling.knative.dev/metric": f["--scale-metric"][0],
                    "autoscaling.knative.dev/target": f["--scale-target"][0],
                },
                "containerConcurrency": int(f["--concurrency-limit"][0]),
                "image": f["--image"][0],
                "port": int(f["--port"][0]),
                "env": env,
                "envFrom": env_from,
                "readiness": f["--probe-readiness"][0].removeprefix("http::"),
                "liveness": f["--probe-liveness"][0].removeprefix("http::"),
                "readinessOpts": _kv(f["--probe-readiness-opts"][0]),
                "livenessOpts": _kv(f["--probe-liveness-opts"][0]),
                "resources": {"requests": _kv(f["--request"][0]), "limits": _kv(f["--limit"][0])},
            }
        elif pos[:4] == ["kn", "source", "kafka", "create"]:
            svc = f["--sink"][0].removeprefix("ksvc:")
            objs[("KafkaSource", pos[4])] = {
                "namespace": f["--namespace"][0],
                "labels": dict(label.split("=", 1) for label in f["--label"]),
                "spec": {
                    "bootstrapServers": f["--servers"][0].split(","),
                    "topics": f["--topics"][0].split(","),
                    "consumerGroup": f["--consumergroup"][0],
                    "sink": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": svc}},
                },
            }
        elif pos[:4] == ["kn", "source", "ping", "create"]:
            svc = f["--sink"][0].removeprefix("ksvc:")
            objs[("PingSource", pos[4])] = {
                "namespace": f["--namespace"][0],
                "spec": {
                    "schedule": f["--schedule"][0],
                    "data": f["--data"][0],
                    "sink": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": svc}},
                },
            }
        elif pos[:2] == ["kubectl", "patch"] or (pos[:1] == ["kubectl"] and "patch" in pos):
            kind = {"kafkasource": "KafkaSource", "pingsource": "PingSource"}[pos[pos.index("patch") + 1]]
            name = pos[pos.index("patch") + 2]
            assert f["--type"] == ["merge"]
            _merge(objs[(kind, name)], json.loads(f["-p"][0]))
        else:
            raise AssertionError(f"unexpected command: {raw}")
    return objs


def _expected(settings: DeploySettings) -> dict[tuple[str, str], Obj]:
    out: dict[tuple[str, str], Obj] = {}
    for path, docs in base_documents(load_catalog(), settings).items():
        if not path.startswith("functions/"):
            continue
        for d in docs:
            m = d["metadata"]
            if d["kind"] == "Service":
                tmpl = d["spec"]["template"]
                c = tmpl["spec"]["containers"][0]
                out[("Service", m["name"])] = {
                    "namespace": m["namespace"],
                    "labels": tmpl["metadata"]["labels"],
                    "annotations": tmpl["metadata"]["annotations"],
                    "containerConcurrency": tmpl["spec"]["containerConcurrency"],
                    "image": f"REG/{c['image']}:TAG",
                    "port": c["ports"][0]["containerPort"],
                    "env": c["env"],
                    "envFrom": c["envFrom"],
                    "readiness": c["readinessProbe"]["httpGet"]["path"],
                    "liveness": c["livenessProbe"]["httpGet"]["path"],
                    "readinessOpts": {"periodSeconds": str(c["readinessProbe"]["periodSeconds"])},
                    "livenessOpts": {
                        "periodSeconds": str(c["livenessProbe"]["periodSeconds"]),
                        "failureThreshold": str(c["livenessProbe"]["failureThreshold"]),
                    },
                    "resources": c["resources"],
                }
            elif d["kind"] == "KafkaSource":
                out[("KafkaSource", m["name"])] = {
                    "namespace": m["namespace"],
                    "labels": m["labels"],
                    "spec": d["spec"],
                }
            elif d["kind"] == "PingSource":
                out[("PingSource", m["name"])] = {"namespace": m["namespace"], "spec": d["spec"]}
    return out


def test_kn_commands_make_the_same_wiring_as_the_manifests() -> None:
    settings = DeploySettings()
    got = parse(kn_script(load_catalog(), settings))
    want = _expected(settings)
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key


def test_a_drift_is_caught() -> None:
    """The comparison is not vacuous: a changed retry count in the script is a difference."""
    script = kn_script(load_catalog())
    broken = script.replace('{"retry":', '{"retry":9', 1)
    assert broken != script
    with pytest.raises(AssertionError):
        got, want = parse(broken), _expected(DeploySettings())
        for key in want:
            assert got[key] == want[key], key


def test_the_first_line_applies_every_non_kn_object_by_label() -> None:
    """Topics, KafkaSinks and source workloads carry a component the selector names."""
    selector = set(NON_KN_SELECTOR.split("(", 1)[1].rstrip(")").split(","))
    for path, docs in base_documents(load_catalog(), DeploySettings()).items():
        for d in docs:
            if d["kind"] in ("KafkaTopic", "KafkaSink", "Deployment", "SinkBinding"):
                assert d["metadata"]["labels"]["app.kubernetes.io/component"] in selector, (path, d["kind"])


def test_cli_prints_the_script() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kairos.cli", "manifests", "--kn"], capture_output=True, text=True, check=True
    ).stdout
    assert out == kn_script(load_catalog())
    subprocess.run(["bash", "-n"], input=out, text=True, check=True)
