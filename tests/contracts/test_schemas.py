"""Committed JSON Schemas match their models, and existing versions only change compatibly."""

from __future__ import annotations

import json

import pytest
from kairos.contracts.registry import registered
from kairos.contracts.schemas import REPO_SCHEMAS, breaking_changes, generate, render, schema_path

TYPES = sorted(registered())


@pytest.mark.parametrize(("event_type", "version"), TYPES)
def test_committed_schema_equals_generated(event_type, version):
    path = schema_path(REPO_SCHEMAS, event_type, version)
    assert path.exists(), f"{path} missing: run `make schemas`"
    assert path.read_text() == render(generate(event_type, version)), f"{path} drifted: run `make schemas`"


@pytest.mark.parametrize(("event_type", "version"), TYPES)
def test_model_is_backward_compatible_with_committed_schema(event_type, version):
    old = json.loads(schema_path(REPO_SCHEMAS, event_type, version).read_text())
    assert breaking_changes(old, generate(event_type, version)) == []


def test_every_schema_file_belongs_to_a_registered_model():
    files = {(p.parent.name, int(p.stem[1:])) for p in REPO_SCHEMAS.glob("*/v*.json")}
    assert files == set(TYPES)


BASE = {
    "type": "object",
    "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "side": {"enum": ["buy", "sell"]}},
    "required": ["a"],
}


def test_adding_an_optional_field_is_compatible():
    new = json.loads(json.dumps(BASE))
    new["properties"]["c"] = {"type": "string"}
    assert breaking_changes(BASE, new) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["properties"].pop("b"), "field removed"),
        (lambda s: s["required"].append("b"), "became required"),
        (lambda s: s["properties"].__setitem__("b", {"type": "string"}), "no longer accepts"),
        (lambda s: s["properties"].__setitem__("side", {"enum": ["buy"]}), "no longer accepts"),
    ],
)
def test_breaking_changes_are_detected(change, expected):
    new = json.loads(json.dumps(BASE))
    change(new)
    assert any(expected in p for p in breaking_changes(BASE, new))
