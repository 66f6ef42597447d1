"""The infra files as the infra tests read them: repository paths, the versions file, a tiny
kustomize renderer (only what k8s/platform and k8s/app use), tool lookup."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from kairos_testkit.paths import REPO

TF_DIR = REPO / "infra" / "terraform" / "hetzner"
PLATFORM = REPO / "k8s" / "platform"
APP = REPO / "k8s" / "app"
SCRIPTS = REPO / "scripts"
VERSIONS_FILE = PLATFORM / "versions.conf"

_ENV_LINE = re.compile(r"^([A-Z0-9_]+)=(\S*)$")


def read_conf(path: Path) -> dict[str, str]:
    """KEY=value lines (the format of versions.conf and site.conf); fails on anything else."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        assert match, f"{path.name}:{number}: not KEY=value without quotes or spaces: {line!r}"
        values[match[1]] = match[2]
    return values


def versions() -> dict[str, str]:
    return read_conf(VERSIONS_FILE)


def kubernetes_minor() -> str:
    """The Kubernetes minor of the pinned k3s (v1.34.2+k3s1 -> 1.34)."""
    match = re.match(r"v(\d+\.\d+)\.", versions()["K3S_VERSION"])
    assert match
    return match[1]


def load_yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def tool(name: str) -> str | None:
    """A command-line tool: on PATH, or in .venv-tools/bin (checkov)."""
    local = REPO / ".venv-tools" / "bin" / name
    if local.exists():
        return str(local)
    return shutil.which(name)


# --- kustomize, the subset we use --------------------------------------------------------


def _get(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        node = node[part]
    return node


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert last in node, f"replacement target field {dotted} does not exist"
    node[last] = value


def render_kustomization(directory: Path) -> list[dict[str, Any]]:
    """Resources + labels + namespace + configMapGenerator(envs, files) + replacements.

    Generated ConfigMaps annotated local-config are dropped, as kustomize does. Anything
    else in a kustomization fails the assertion below, so this cannot silently diverge.
    """
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "resources", "labels", "namespace", "configMapGenerator", "replacements"}
    assert set(kust) <= known, f"render_kustomization does not support {set(kust) - known}"
    docs: list[dict[str, Any]] = []
    for resource in kust.get("resources", []):
        docs.extend(copy.deepcopy(load_yaml_docs(directory / resource)))
    generated: dict[str, dict[str, str]] = {}
    for gen in kust.get("configMapGenerator", []):
        data: dict[str, str] = {}
        for env in gen.get("envs", []):
            data.update(read_conf(directory / env))
        for file in gen.get("files", []):
            data[Path(file).name] = (directory / file).read_text()
        generated[gen["name"]] = data
        local = gen.get("options", {}).get("annotations", {}).get("config.kubernetes.io/local-config") == "true"
        if not local:
            metadata = {"name": gen["name"], **({"namespace": gen["namespace"]} if "namespace" in gen else {})}
            docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
    for rep in kust.get("replacements", []):
        source = rep["source"]
        assert source["kind"] == "ConfigMap" and source["fieldPath"].startswith("data.")
        value = generated[source["name"]][source["fieldPath"].removeprefix("data.")]
        for target in rep["targets"]:
            sel = target["select"]
            hits = [d for d in docs if d["kind"] == sel["kind"] and d["metadata"]["name"] == sel["name"]]
            assert hits, f"replacement selects nothing: {sel}"
            for doc in hits:
                for path in target["fieldPaths"]:
                    _set(doc, path, value)
    for label in kust.get("labels", []):
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
    if "namespace" in kust:
        for doc in docs:
            if doc["kind"] != "Namespace":
                doc["metadata"]["namespace"] = kust["namespace"]
    return docs


def field(doc: dict[str, Any], dotted: str) -> Any:
    return _get(doc, dotted)
