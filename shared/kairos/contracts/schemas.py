"""JSON Schemas of every event type and version, generated from the pydantic models.

``schemas/<type>/v<N>.json`` is committed. Two checks guard it:
- drift: the committed file must equal what the model generates now;
- compatibility: a change to an existing version must be backward compatible for
  consumers (no field removed, no new required field, no type changed, no enum value
  removed); otherwise it must be a new version of the type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kairos.contracts.registry import registered

REPO_SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def schema_path(root: Path, event_type: str, version: int) -> Path:
    return root / event_type / f"v{version}.json"


def generate(event_type: str, version: int) -> dict[str, Any]:
    model = registered()[(event_type, version)]
    schema = model.model_json_schema(mode="validation")
    rules = getattr(model, "RULES", ())
    if rules:
        schema["x-kairos-rules"] = list(rules)
    schema["$id"] = f"https://schemas.kairos.dev/{event_type}/v{version}.json"
    schema["x-kairos-type"] = event_type
    schema["x-kairos-version"] = version
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.split("/")[-1]], root)
    return schema


def _types(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return set().union(*(_types(s, root) for s in schema["anyOf"]))
    if "const" in schema:
        return {f"const:{schema['const']}"}
    if "enum" in schema:
        return {f"const:{v}" for v in schema["enum"]}
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set(kind or ["any"])


def breaking_changes(
    old: dict[str, Any], new: dict[str, Any], path: str = "", *, roots: tuple[Any, Any] | None = None
) -> list[str]:
    """Why ``new`` would break a consumer written against ``old`` (empty when compatible)."""
    old_root, new_root = roots or (old, new)
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems: list[str] = []
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    lost = old_types - new_types
    if lost and "any" not in new_types:
        problems.append(f"{path or '<root>'}: no longer accepts {sorted(lost)}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            problems.append(f"{path}.{name}: field removed")
        else:
            problems += breaking_changes(old_props[name], new_props[name], f"{path}.{name}", roots=(old_root, new_root))
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    problems += [f"{path}.{name}: became required" for name in sorted(newly_required)]
    if old.get("pattern") != new.get("pattern") and "pattern" in new:
        problems.append(f"{path or '<root>'}: pattern changed")
    return problems


def write_all(root: Path = REPO_SCHEMAS, *, allow_breaking: bool = False) -> list[str]:
    """Write every schema; refuses (returns problems, writes nothing) on a breaking change."""
    problems: list[str] = []
    pending: list[tuple[Path, str]] = []
    for event_type, version in registered():
        path = schema_path(root, event_type, version)
        fresh = generate(event_type, version)
        if path.exists() and not allow_breaking:
            old = json.loads(path.read_text())
            problems += [f"{event_type} v{version} {p}" for p in breaking_changes(old, fresh)]
        pending.append((path, render(fresh)))
    if problems:
        return problems
    for path, text in pending:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return []
