"""Strict offline validation of Kubernetes manifests.

Nothing here talks to a cluster. A manifest is checked against:

* the CRD that serves its ``apiVersion``/``kind`` (the ``openAPIV3Schema`` of the served
  version, read from the CRD YAML files under ``crd_dir``), made *strict*: every object
  schema that lists ``properties`` and says nothing about extra keys (no
  ``additionalProperties``, no ``x-kubernetes-preserve-unknown-fields``) gets
  ``additionalProperties: false``, so a misspelt or misplaced field is an error instead of
  being silently pruned by the API server;
* Kubernetes' own OpenAPI schemas for core kinds (``kubernetes-validate``, strict mode).

Public API (kept small on purpose; the app-manifest generator reuses it in its tests)::

    errors = validate_manifest(doc, crd_dir)                 # one parsed YAML document
    errors = validate_documents(yaml_docs, crd_dir)          # several, e.g. one file

Both return a list of human-readable error strings; an empty list means valid. A kind
with neither a CRD under ``crd_dir`` nor a Kubernetes schema is reported as an error
("no schema for ..."), never silently accepted.

Not checked (a real API server would): CEL rules (``x-kubernetes-validations``), string
``format`` values, defaults, admission webhooks.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["CORE_KINDS", "DEFAULT_KUBERNETES_VERSION", "validate_documents", "validate_manifest"]

#: Kubernetes minor used for core kinds unless the caller passes another (keep in line
#: with K3S_VERSION in k8s/platform/versions.env; tests pass the value derived from it).
DEFAULT_KUBERNETES_VERSION = "1.34"

#: Core kinds the manifests of this repository use; any other built-in kind that
#: kubernetes-validate knows is accepted too. Listed for callers that want to tell
#: "core" from "custom" before validating.
CORE_KINDS = frozenset(
    {
        "ConfigMap",
        "CronJob",
        "Deployment",
        "Job",
        "LimitRange",
        "Namespace",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "ResourceQuota",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    }
)

# libyaml's loader when PyYAML was built with it: the CRD files are large.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def validate_manifest(
    doc: dict[str, Any],
    crd_dir: Path,
    *,
    strict: bool = True,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
) -> list[str]:
    """Validate one manifest; return every problem found (empty list = valid).

    The CRD schema wins when ``crd_dir`` has a CRD for the document's group/version/kind;
    otherwise the document is checked as a built-in kind with kubernetes-validate.
    ``strict=False`` keeps the schemas as published (unknown fields allowed where the
    schema does not forbid them). Raises nothing for bad input: a document that is not a
    mapping or lacks ``apiVersion``/``kind`` is reported as an error.
    """
    if not isinstance(doc, dict):
        return [f"document is a {type(doc).__name__}, not a mapping"]
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["document lacks a string apiVersion and kind"]
    label = _label(doc)
    errors = [f"{label}: {e}" for e in _metadata_errors(doc.get("metadata"))]
    schema = _crd_schemas(Path(crd_dir).resolve(), strict).get((api_version, kind))
    if schema is not None:
        validator = jsonschema.Draft7Validator(schema)
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
            errors.append(f"{label}: {_where(err)}: {err.message}")
        return errors
    errors.extend(f"{label}: {e}" for e in _core_errors(doc, kubernetes_version, strict))
    return errors


def validate_documents(
    docs: Iterable[Any],
    crd_dir: Path,
    *,
    strict: bool = True,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
) -> list[str]:
    """Validate every non-empty document (e.g. ``yaml.safe_load_all`` of a file)."""
    errors: list[str] = []
    for doc in docs:
        if doc is None:
            continue
        errors.extend(validate_manifest(doc, crd_dir, strict=strict, kubernetes_version=kubernetes_version))
    return errors


# --- CRD schemas -------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _crd_schemas(crd_dir: Path, strict: bool) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema, for every served version of every CRD under crd_dir."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(crd_dir.rglob("*.y*ml")):
        with path.open(encoding="utf-8") as fh:
            for crd in yaml.load_all(fh, Loader=_YAML_LOADER):
                if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                group, kind = spec["group"], spec["names"]["kind"]
                for version in spec.get("versions", []):
                    if not version.get("served", False):
                        continue
                    raw = version.get("schema", {}).get("openAPIV3Schema") or spec.get("validation", {}).get(
                        "openAPIV3Schema"
                    )
                    if raw is None:
                        continue
                    found[(f"{group}/{version['name']}", kind)] = _to_jsonschema(raw, strict)
    return found


def _to_jsonschema(schema: dict[str, Any], strict: bool) -> dict[str, Any]:
    """OpenAPI v3 (Kubernetes flavour) -> JSON Schema; closes open field sets when strict."""
    out = copy.deepcopy(schema)
    # Every object the API server stores has these at its root, whether or not a CRD's
    # schema lists them (PingSource, SinkBinding and KafkaSink list only spec/status):
    # without them a strict root would refuse every valid manifest of those kinds.
    props = out.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props.setdefault("metadata", {"type": "object"})
    _convert(out, strict)
    return out


def _convert(node: Any, strict: bool) -> None:
    if not isinstance(node, dict):
        return
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    # int-or-string fields carry no (or a misleading) type of their own.
    if node.get("x-kubernetes-int-or-string") is True:
        node.pop("type", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if strict and "properties" in node and "additionalProperties" not in node and not preserve:
        node["additionalProperties"] = False
    for child in (node.get("properties") or {}).values():
        _convert(child, strict)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _convert(node[key], strict)
    # anyOf/oneOf/allOf branches in CRDs only add constraints (required sets, types):
    # they are converted for types but never closed, or they would reject valid siblings.
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key) or []:
            _convert(branch, strict=False)


# --- core kinds --------------------------------------------------------------------------


def _core_errors(doc: dict[str, Any], kubernetes_version: str, strict: bool) -> list[str]:
    """Every error against Kubernetes' schema (kubernetes-validate's own API stops at the first)."""
    import kubernetes_validate  # imported lazily: only core kinds need it

    validator = _core_validator(doc["apiVersion"], doc["kind"], kubernetes_version, strict)
    if validator is not None:
        found = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        return [f"{_where(err)}: {err.message}" for err in found]
    try:  # schema files not where we expect them: let the library look them up
        kubernetes_validate.validate(doc, kubernetes_version, strict=strict)
    except kubernetes_validate.SchemaNotFoundError:
        kind = f"{doc['apiVersion']} {doc['kind']}"
        return [f"no schema for {kind} (no CRD in the CRD folder, not a core kind)"]
    except kubernetes_validate.ValidationError as err:
        return [f"{_where(err)}: {err.message}"]
    return []


@functools.lru_cache(maxsize=64)
def _core_validator(api_version: str, kind: str, kubernetes_version: str, strict: bool) -> Any:
    """A validator over the schema kubernetes-validate ships for this kind, or None."""
    import importlib.resources

    from kubernetes_validate import utils
    from referencing import Registry, Resource

    wanted = tuple(int(x) for x in utils.major_minor(kubernetes_version.lstrip("v")).split("."))
    available = [v for v in utils.all_versions() if tuple(int(x) for x in v.split(".")[:2]) <= wanted]
    if not available:
        return None
    folder = f"v{available[-1]}-local" + ("-strict" if strict else "")
    # rbac.authorization.k8s.io/v1 -> rbac-v1, apps/v1 -> apps-v1, v1 -> v1 (the library's naming)
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    root = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", folder)
    schema_file = root.joinpath(f"{kind.lower()}-{group_version}.json")
    if not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text())
    definitions = json.loads(root.joinpath("_definitions.json").read_text())
    # Both documents carry their own ids; the schema's $refs point into the definitions.
    registry: Registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


# --- helpers -----------------------------------------------------------------------------


def _metadata_errors(metadata: Any) -> list[str]:
    """CRD schemas leave ``metadata`` open; check the parts the API server would reject."""
    if not isinstance(metadata, dict):
        return ["metadata is missing or not a mapping"]
    errors = []
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        if "generateName" not in metadata:
            errors.append("metadata.name is missing")
    elif len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        errors.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    for field in ("labels", "annotations"):
        value = metadata.get(field, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            errors.append(f"metadata.{field} must map strings to strings (quote numbers and booleans)")
    return errors


def _where(err: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in err.absolute_path) or "<root>"


def _label(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name", "?") if isinstance(meta, dict) else "?"
    return f"{doc.get('kind')}/{name}"
