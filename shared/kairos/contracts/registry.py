"""The one map from (event type, schema version) to payload model.

An event whose type is not registered, or whose version is not, cannot be handled by
any function: it is refused with a permanent error and ends in a dead-letter topic.
"""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kairos.contracts.types import WIRE_CONTEXT
from kairos.errors import InvalidEvent, UnknownEventType, UnsupportedSchemaVersion

M = TypeVar("M", bound=type[BaseModel])

_MODELS: dict[tuple[str, int], type[BaseModel]] = {}
_TYPES: dict[type[BaseModel], tuple[str, int]] = {}


def register(event_type: str, version: int) -> Callable[[M], M]:
    """Class decorator: make ``model`` the payload of ``event_type`` version ``version``."""

    def decorate(model: M) -> M:
        key = (event_type, version)
        if key in _MODELS and _MODELS[key] is not model:
            raise RuntimeError(f"{event_type} v{version} is registered twice")
        _MODELS[key] = model
        _TYPES[model] = key
        return model

    return decorate


@functools.cache
def _load_all() -> None:
    """Import every module of the contracts package once, so that every ``@register`` has run.

    Discovered, not listed: a new contract module registers its models by existing, and no
    hand-kept list can forget it (``tests/contracts/test_registry_discovery.py``)."""
    import kairos.contracts as package

    for module in pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}."):
        importlib.import_module(module.name)


def type_of(model: type[BaseModel]) -> tuple[str, int]:
    _load_all()
    return _TYPES[model]


def registered() -> dict[tuple[str, int], type[BaseModel]]:
    """Every registered (type, version) and its model, sorted by type and version."""
    _load_all()
    return dict(sorted(_MODELS.items()))


def model_for(event_type: str, version: int) -> type[BaseModel]:
    """The model of a (type, version); raises UnknownEventType / UnsupportedSchemaVersion."""
    _load_all()
    model = _MODELS.get((event_type, version))
    if model is not None:
        return model
    known = sorted(v for (t, v) in _MODELS if t == event_type)
    if not known:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    raise UnsupportedSchemaVersion(f"{event_type} schema version {version} is not supported (supported: {known})")


def parse_data(event_type: str, version: int, data: Any) -> BaseModel:
    """Validate a payload from the wire against its model; every problem in one error.

    Strict, on the JSON text: pydantic's lax mode would take 79 for an amount, 1700000000
    for a timestamp, "3" or true for an integer, none of which the published JSON Schema
    allows (``kairos.contracts.types`` says what strict means per field type). ``data``
    is the decoded JSON (the CloudEvents SDK parsed it); it is encoded again so pydantic
    sees JSON types, not Python ones.
    """
    model = model_for(event_type, version)
    try:
        raw = json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"{event_type} v{version} payload is not JSON: {exc}") from None
    try:
        return model.model_validate_json(raw, strict=True, context=WIRE_CONTEXT)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidEvent(f"{event_type} v{version} payload is invalid: {problems}") from None
