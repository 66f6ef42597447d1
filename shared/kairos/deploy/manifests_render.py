"""Render the generated kustomizations in Python, for machines without kubectl/kustomize.

Only what ``kairos.deploy.manifests`` writes is supported: ``resources`` (files and
kustomization directories) and ``patches`` holding JSON 6902 operations (inline or in a
file) selected by group/version/kind/name/namespace/labelSelector. Anything else raises
:class:`UnsupportedKustomization`, so a kustomization that outgrows this renderer fails
its test loudly instead of rendering wrong. When kubectl is installed, ``tests/deploy``
checks that both renderings agree.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]
_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "patches"}
_TARGET_KEYS = {"group", "version", "kind", "name", "namespace", "labelSelector"}


class UnsupportedKustomization(Exception):
    """The kustomization uses a feature this renderer does not implement; ``str()`` names it."""


def render(directory: Path) -> list[Manifest]:
    """Every object the kustomization in ``directory`` emits, patched. Raises OSError,
    yaml.YAMLError, UnsupportedKustomization, or ValueError for a patch that does not apply."""
    path = directory / "kustomization.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(spec) - _KUSTOMIZATION_KEYS
    if unknown:
        raise UnsupportedKustomization(f"{path}: unsupported keys {sorted(unknown)}")
    docs: list[Manifest] = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            docs += render(target)
        elif target.is_file():
            docs += [d for d in yaml.safe_load_all(target.read_text(encoding="utf-8")) if d is not None]
        else:
            raise FileNotFoundError(f"{path}: resource {entry} does not exist")
    for patch in spec.get("patches", []):
        ops = _patch_ops(directory, patch)
        selector = patch.get("target") or {}
        if set(selector) - _TARGET_KEYS:
            raise UnsupportedKustomization(f"{path}: unsupported target keys {sorted(set(selector) - _TARGET_KEYS)}")
        matched = [i for i, doc in enumerate(docs) if _selected(doc, selector)]
        if not matched:
            raise ValueError(f"{path}: patch target {selector} matches nothing")
        for i in matched:
            docs[i] = apply_json6902(docs[i], ops)
    return docs


def _patch_ops(directory: Path, patch: dict[str, Any]) -> list[dict[str, Any]]:
    if set(patch) - {"patch", "path", "target"}:
        raise UnsupportedKustomization(f"patch keys {sorted(patch)}")
    text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text(encoding="utf-8")
    ops = yaml.safe_load(text)
    if not isinstance(ops, list):
        raise UnsupportedKustomization("only JSON 6902 patches (a list of operations) are supported")
    return ops


def _selected(doc: Manifest, selector: dict[str, str]) -> bool:
    group, _, version = doc["apiVersion"].rpartition("/")
    meta = doc.get("metadata", {})
    checks = {
        "group": group,
        "version": version,
        "kind": doc["kind"],
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
    }
    for key, wanted in selector.items():
        if key == "labelSelector":
            labels = meta.get("labels", {})
            pairs = [part.split("=", 1) for part in wanted.split(",")]
            if any(len(p) != 2 or labels.get(p[0].strip()) != p[1].strip() for p in pairs):
                return False
        elif not re.fullmatch(f"(?:{wanted})", checks[key]):  # kustomize anchors these regexes
            return False
    return True


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_json6902(doc: Manifest, ops: list[dict[str, Any]]) -> Manifest:
    """``doc`` with RFC 6902 ``add``/``replace``/``remove`` applied; ValueError when a path is absent."""
    out = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _pointer(op["path"])
        node: Any = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
            if node is None:
                raise ValueError(f"path {op['path']} does not exist in {doc['kind']}/{doc['metadata']['name']}")
        kind = op["op"]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if kind == "add":
                node.insert(index, copy.deepcopy(op["value"]))
            elif kind in ("replace", "remove") and index < len(node):
                node[index : index + 1] = [] if kind == "remove" else [copy.deepcopy(op["value"])]
            else:
                raise ValueError(f"cannot {kind} {op['path']}")
        elif kind == "add":
            node[last] = copy.deepcopy(op["value"])
        elif kind in ("replace", "remove") and last in node:
            if kind == "remove":
                del node[last]
            else:
                node[last] = copy.deepcopy(op["value"])
        else:
            raise ValueError(f"cannot {kind} {op['path']} in {doc['kind']}/{doc['metadata']['name']}")
    return out
