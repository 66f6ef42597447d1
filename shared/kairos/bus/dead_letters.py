"""Dead letters: reading ``dlq.*`` topics, the original topic of a letter, the record to replay.

A dead letter is the event exactly as the delivery sent it, plus Knative's
``knativeerrorcode``, ``knativeerrordata`` (base64 of the function's answer, which for a
Kairos function is ``{"error": {"code", "reason"}}``) and ``knativeerrordest``. Replay
removes those attributes, optionally replaces the data with a fixed payload, and sends the
event to the topic it was originally consumed from, which the catalog names. Used by
``kairos dlq`` and the operator API.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cloudevents.core.v1.event import CloudEvent

from kairos.bus.reader import read_topics
from kairos.catalog import Catalog
from kairos.contracts.codec import (
    KNATIVE_KAFKA_EVENT_TYPE,
    KafkaRecord,
    cloudevent_to_kafka,
    is_cloudevent_record,
    kafka_to_cloudevent,
)
from kairos.errors import ConfigError, InvalidEvent

ERROR_ATTRIBUTES = ("knativeerrorcode", "knativeerrordata", "knativeerrordest")


@dataclass
class DeadLetter:
    """One record of a ``dlq.*`` topic, decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    event: CloudEvent | None
    raw: bytes

    @property
    def ref(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    def attr(self, name: str) -> str:
        if self.event is None:
            return ""
        value = self.event.get_attributes().get(name)
        return "" if value is None else str(value)

    @property
    def event_id(self) -> str:
        return self.attr("id")

    def error_body(self) -> Any:
        text = self.attr("knativeerrordata")
        if not text:
            return None
        try:
            body = base64.b64decode(text)
        except ValueError:
            return text
        try:
            return json.loads(body)
        except ValueError:
            return body.decode(errors="replace")

    def reason(self) -> str:
        body = self.error_body()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
            return f"{err.get('code', '')}: {err.get('reason', '')}"
        return "" if body is None else str(body)


def dead_letter_topics(catalog: Catalog, function: str | None = None) -> list[str]:
    if function:
        dlq = catalog.function(function).dead_letter_topic
        if not dlq:
            raise ConfigError(f"function {function} has no dead-letter topic in the catalog")
        return [dlq]
    return [t.name for t in catalog.topics if t.dead_letter]


def read(bootstrap: str, topics: list[str], *, profile: str = "kafka") -> list[DeadLetter]:
    """Every record of the dead-letter ``topics``, decoded where it is a CloudEvent."""
    out = []
    for rec in read_topics(bootstrap, topics, profile=profile):
        record = KafkaRecord(key=rec.key, value=rec.value or b"", headers=tuple((k, v or b"") for k, v in rec.headers))
        event = None
        if is_cloudevent_record(record):
            try:
                event = kafka_to_cloudevent(record)
            except InvalidEvent:
                event = None
        out.append(DeadLetter(rec.topic, rec.partition, rec.offset, rec.key, event, record.value))
    return out


def original_topic(catalog: Catalog, letter: DeadLetter) -> str:
    """The topic the dead-lettered event was consumed from, per the catalog.

    Raises ConfigError when the catalog cannot tell (say which topic with --topic).
    """
    owners = [fn for fn in catalog.functions if fn.dead_letter_topic == letter.topic]
    if len(owners) != 1:
        raise ConfigError(f"no single function dead-letters to {letter.topic}; give --topic")
    fn = owners[0]
    if len(fn.subscriptions) == 1:
        return fn.subscriptions[0].topic
    event_type = letter.attr("type")
    matching = [s.topic for s in fn.subscriptions if event_type in catalog.topic(s.topic).types]
    if len(matching) != 1:
        raise ConfigError(
            f"{fn.name} subscribes to {[s.topic for s in fn.subscriptions]}; none or several carry {event_type}: "
            "give --topic"
        )
    return matching[0]


def fixed_record(letter: DeadLetter, data: Any | None) -> KafkaRecord:
    """The record to publish: the original event without the error attributes, data fixed."""
    if letter.event is None:
        raise ConfigError(f"{letter.ref} is not a CloudEvent record; it cannot be replayed")
    attrs = {k: v for k, v in letter.event.get_attributes().items() if k not in ERROR_ATTRIBUTES}
    if attrs.get("type") == KNATIVE_KAFKA_EVENT_TYPE:
        # the original record was not a CloudEvent: send its value (or the fix) back as it came
        value = json.dumps(data).encode() if data is not None else _as_bytes(letter.event.get_data())
        key = str(attrs["key"]).encode() if attrs.get("key") else letter.key
        return KafkaRecord(key=key, value=value, headers=())
    return cloudevent_to_kafka(CloudEvent(attributes=attrs, data=letter.event.get_data() if data is None else data))


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    return json.dumps(data).encode()


def find(letters: list[DeadLetter], ref: str) -> DeadLetter:
    for letter in letters:
        if ref in (letter.ref, letter.event_id):
            return letter
    raise ConfigError(f"no dead letter {ref!r}; see 'kairos dlq list'")


def summary(x: DeadLetter) -> dict[str, Any]:
    return {
        "ref": x.ref,
        "id": x.event_id,
        "type": x.attr("type"),
        "code": x.attr("knativeerrorcode"),
        "reason": x.reason(),
        "dest": x.attr("knativeerrordest"),
    }
