"""The envelope every Kairos event carries, mapped onto CloudEvents 1.0 attributes.

| seed field      | CloudEvent attribute        |
|-----------------|-----------------------------|
| event id        | ``id``                      |
| event type      | ``type``                    |
| producer        | ``source``                  |
| observed_at     | ``time``                    |
| ingested_at     | ``ingestedat`` (extension)  |
| venue           | ``venue`` (extension)       |
| schema version  | ``schemaversion`` (ext.)    |
| partition key   | ``partitionkey`` (ext.) = Kafka record key |
| correlation id  | ``correlationid`` (ext.)    |
| causation id    | ``causationid`` (ext.)      |

An :class:`Envelope` pairs these attributes with the typed payload model.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

DATA_CONTENT_TYPE = "application/json"
KAIROS_NAMESPACE = uuid.UUID("6f1c3d52-8a0e-4c55-9a53-4e0d7e8b3a11")

T = TypeVar("T", bound=BaseModel)


def now_utc() -> datetime:
    return datetime.now(UTC)


def stable_id(*parts: object) -> str:
    """A deterministic event id from its parts: redoing the same work yields the same id."""
    return str(uuid.uuid5(KAIROS_NAMESPACE, "\x1f".join(str(p) for p in parts)))


@dataclass(frozen=True)
class EventMeta:
    """CloudEvent attributes of one Kairos event (see the module table)."""

    id: str
    type: str
    source: str
    time: datetime
    ingested_at: datetime
    schema_version: int
    partition_key: str
    correlation_id: str
    causation_id: str | None = None
    venue: str | None = None
    subject: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Envelope(Generic[T]):
    """A typed event: envelope attributes plus a validated payload."""

    meta: EventMeta
    data: T

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def type(self) -> str:
        return self.meta.type

    def with_meta(self, **changes: Any) -> Envelope[T]:
        return Envelope(meta=replace(self.meta, **changes), data=self.data)


def new_event(
    data: T,
    *,
    source: str,
    partition_key: str,
    event_id: str | None = None,
    observed_at: datetime | None = None,
    venue: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    subject: str | None = None,
) -> Envelope[T]:
    """Wrap a payload in a fresh envelope (a new correlation chain unless one is given).

    The event type and schema version come from the payload model's registration.
    Raises KeyError when the model is not registered (a programming error).
    """
    from kairos.contracts.registry import type_of

    event_type, version = type_of(type(data))
    now = now_utc()
    eid = event_id or str(uuid.uuid4())
    meta = EventMeta(
        id=eid,
        type=event_type,
        source=source,
        time=observed_at or now,
        ingested_at=now,
        schema_version=version,
        partition_key=partition_key,
        correlation_id=correlation_id or eid,
        causation_id=causation_id,
        venue=venue,
        subject=subject,
    )
    return Envelope(meta=meta, data=data)


def derive_event(
    cause: Envelope[Any],
    data: T,
    *,
    source: str,
    partition_key: str,
    index: int = 0,
    observed_at: datetime | None = None,
    venue: str | None = None,
    subject: str | None = None,
) -> Envelope[T]:
    """An event caused by ``cause``: same correlation chain, causation = cause's id.

    The id is deterministic from (source, cause id, index), so handling the same input
    twice produces byte-identical outputs that downstream inboxes dedupe.
    """
    return new_event(
        data,
        source=source,
        partition_key=partition_key,
        event_id=stable_id(source, cause.meta.id, index),
        observed_at=observed_at or cause.meta.time,
        venue=venue if venue is not None else cause.meta.venue,
        correlation_id=cause.meta.correlation_id,
        causation_id=cause.meta.id,
        subject=subject,
    )
