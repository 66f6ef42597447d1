"""The only module that knows CloudEvents encodings (cloudevents 2.x core bindings).

Pure conversions, no clients: Envelope <-> CloudEvent <-> Kafka record (binary content
mode: ``ce_*`` headers, ``content-type``, key = ``partitionkey``) and HTTP (binary and
structured mode). Decoding errors become :class:`~kairos.errors.InvalidEvent` and friends,
so callers can answer 4xx without guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent

from kairos.contracts.envelope import DATA_CONTENT_TYPE, Envelope, EventMeta
from kairos.contracts.registry import parse_data
from kairos.errors import InvalidAttribute, InvalidEvent, MalformedEvent, MissingAttribute

# CloudEvent extension names (lowercase alphanumerics, as the spec requires).
EXT_INGESTED_AT = "ingestedat"
EXT_VENUE = "venue"
EXT_SCHEMA_VERSION = "schemaversion"
EXT_PARTITION_KEY = "partitionkey"
EXT_CORRELATION_ID = "correlationid"
EXT_CAUSATION_ID = "causationid"
_KNOWN_EXTENSIONS = {
    EXT_INGESTED_AT,
    EXT_VENUE,
    EXT_SCHEMA_VERSION,
    EXT_PARTITION_KEY,
    EXT_CORRELATION_ID,
    EXT_CAUSATION_ID,
}
_CORE_ATTRIBUTES = {"id", "type", "source", "specversion", "time", "datacontenttype", "dataschema", "subject"}

KNATIVE_KAFKA_EVENT_TYPE = "dev.knative.kafka.event"

#: Attributes every event must carry as sent: CloudEvents' four required ones, plus
#: ``time``, which every Kairos contract requires. They are checked on the raw request or
#: record, before the SDK builds a CloudEvent: its constructor fills a missing ``id`` with
#: a random UUID and a missing ``time`` with "now", so an id-less event sent twice would
#: otherwise pass the inbox twice.
REQUIRED_ATTRIBUTES = ("id", "source", "type", "specversion", "time")
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch"


@dataclass(frozen=True)
class KafkaRecord:
    """What goes onto (or came off) a Kafka topic, client-agnostic."""

    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> bytes | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def _iso(ts: datetime) -> str:
    text = ts.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _parse_ts(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent(f"attribute {name} is not an RFC 3339 timestamp: {value!r}") from None


# --- raw attributes, before any SDK default -------------------------------------------


def check_required_attributes(attrs: Mapping[str, Any]) -> None:
    """Refuse an event whose attributes, as sent, lack or garble a required one."""
    for name in REQUIRED_ATTRIBUTES:
        value = attrs.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise MissingAttribute(f"required CloudEvent attribute {name!r} is missing or empty", attribute=name)
        if not isinstance(value, str):
            raise InvalidAttribute(
                f"CloudEvent attribute {name!r} must be a string, got {type(value).__name__}", attribute=name
            )
    if attrs["specversion"] != "1.0":
        raise InvalidAttribute(f'specversion must be "1.0", got {attrs["specversion"]!r}', attribute="specversion")
    try:
        stamp = datetime.fromisoformat(str(attrs["time"]).replace("Z", "+00:00"))
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None or "T" not in str(attrs["time"]).upper():
        raise InvalidAttribute(f"attribute 'time' is not an RFC 3339 timestamp: {attrs['time']!r}", attribute="time")


def _structured_attributes(body: bytes, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedEvent(f"structured {where} is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"structured {where} is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MalformedEvent(f"structured {where} must be a JSON object, got {type(obj).__name__}")
    return obj


def _refuse_batch(content_type: str) -> None:
    if content_type.lower().startswith(BATCH_CONTENT_TYPE):
        raise MalformedEvent(f"batch mode ({content_type}) is not supported: send one event per request or record")


def http_raw_attributes(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The attributes of an HTTP request as sent (binary ``ce-*`` headers or structured body)."""
    ctype = headers.get("content-type", "")
    _refuse_batch(ctype)
    if ctype.lower().startswith(STRUCTURED_CONTENT_TYPE):
        return _structured_attributes(body, "body")
    attrs = {name[3:]: unquote(value) for name, value in headers.items() if name.startswith("ce-")}
    if not attrs:
        raise MalformedEvent(
            f"not a CloudEvent: no ce-* headers and content type {ctype or '(none)'!r} is not {STRUCTURED_CONTENT_TYPE}"
        )
    return attrs


def http_headers_from_raw(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI header pairs as text; a header that is not UTF-8 is refused naming it."""
    headers: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        try:
            headers[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            attribute = name[3:] if name.startswith("ce-") else None
            raise InvalidAttribute(f"header {name!r} is not valid UTF-8", attribute=attribute) from None
    return headers


# --- Envelope <-> CloudEvent -------------------------------------------------------


def to_cloudevent(env: Envelope[Any]) -> CloudEvent:
    """The CloudEvent form of an envelope; data is the payload's JSON form."""
    m = env.meta
    attrs: dict[str, Any] = {
        "id": m.id,
        "type": m.type,
        "source": m.source,
        "specversion": "1.0",
        "time": m.time,
        "datacontenttype": DATA_CONTENT_TYPE,
        EXT_INGESTED_AT: _iso(m.ingested_at),
        EXT_SCHEMA_VERSION: str(m.schema_version),
        EXT_PARTITION_KEY: m.partition_key,
        EXT_CORRELATION_ID: m.correlation_id,
    }
    if m.causation_id:
        attrs[EXT_CAUSATION_ID] = m.causation_id
    if m.venue:
        attrs[EXT_VENUE] = m.venue
    if m.subject:
        attrs["subject"] = m.subject
    attrs.update(m.extra)
    return CloudEvent(attributes=attrs, data=env.data.model_dump(mode="json"))


def _data_as_json(ce: CloudEvent) -> Any:
    data = ce.get_data()
    if isinstance(data, bytes | str):
        if not data:
            return None
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidEvent(f"event data is not JSON: {exc}") from None
    return data


def schema_version_of(ce: CloudEvent) -> int:
    """The payload's schema version; events from outside Kairos (Knative's) are v1."""
    raw = ce.get_extension(EXT_SCHEMA_VERSION)
    if raw is None:
        if ce.get_type().startswith("kairos."):
            raise InvalidEvent(f"{ce.get_type()} event {ce.get_id()} lacks the schemaversion attribute")
        return 1
    try:
        return int(str(raw))
    except ValueError:
        raise InvalidEvent(f"schemaversion must be an integer, got {raw!r}") from None


def from_cloudevent(ce: CloudEvent) -> Envelope[Any]:
    """Validate a CloudEvent into an envelope with its typed payload.

    Raises UnknownEventType, UnsupportedSchemaVersion or InvalidEvent (all permanent).
    """
    event_type = ce.get_type()
    version = schema_version_of(ce)
    data = parse_data(event_type, version, _data_as_json(ce))
    attrs = ce.get_attributes()
    time = ce.get_time()
    if time is None:
        raise InvalidEvent(f"event {ce.get_id()} lacks the time attribute")
    time = _parse_ts(time, "time")
    ingested = attrs.get(EXT_INGESTED_AT)
    extra = {k: str(v) for k, v in attrs.items() if k not in _CORE_ATTRIBUTES and k not in _KNOWN_EXTENSIONS}
    meta = EventMeta(
        id=ce.get_id(),
        type=event_type,
        source=ce.get_source(),
        time=time,
        ingested_at=_parse_ts(ingested, EXT_INGESTED_AT) if ingested else time,
        schema_version=version,
        partition_key=str(attrs.get(EXT_PARTITION_KEY) or ""),
        correlation_id=str(attrs.get(EXT_CORRELATION_ID) or ce.get_id()),
        causation_id=str(attrs[EXT_CAUSATION_ID]) if attrs.get(EXT_CAUSATION_ID) else None,
        venue=str(attrs[EXT_VENUE]) if attrs.get(EXT_VENUE) else None,
        subject=ce.get_subject(),
        extra=extra,
    )
    return Envelope(meta=meta, data=data)


# --- Kafka (binary content mode) ---------------------------------------------------


def cloudevent_to_kafka(ce: CloudEvent) -> KafkaRecord:
    msg = ce_kafka.to_binary_event(ce)
    key = msg.key.encode() if isinstance(msg.key, str) else msg.key
    return KafkaRecord(key=key, value=msg.value, headers=tuple(sorted(msg.headers.items())))


def to_kafka(env: Envelope[Any]) -> KafkaRecord:
    """An envelope as a binary-mode Kafka record keyed by its partition key."""
    return cloudevent_to_kafka(to_cloudevent(env))


def is_cloudevent_record(record: KafkaRecord) -> bool:
    """A record that claims to be a CloudEvent: any ``ce_*`` header (one without
    ``ce_specversion`` is a CloudEvent missing an attribute, not a plain record) or a
    ``application/cloudevents*`` content type."""
    if any(k.lower().startswith("ce_") for k, _ in record.headers):
        return True
    ctype = (record.header("content-type") or b"").decode(errors="replace")
    return ctype.startswith("application/cloudevents")


def kafka_raw_attributes(record: KafkaRecord) -> dict[str, Any]:
    """The attributes of a record as sent (binary ``ce_*`` headers or structured value)."""
    ctype = (record.header("content-type") or b"").decode("utf-8", errors="replace")
    _refuse_batch(ctype)
    if ctype.lower().startswith(STRUCTURED_CONTENT_TYPE):
        return _structured_attributes(record.value, "record value")
    attrs: dict[str, Any] = {}
    for name, value in record.headers:
        if not name.lower().startswith("ce_"):
            continue
        try:
            attrs[name.lower()[3:]] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidAttribute(f"header {name!r} is not valid UTF-8", attribute=name.lower()[3:]) from None
    return attrs


def kafka_to_cloudevent(record: KafkaRecord) -> CloudEvent:
    """Decode a binary or structured record; raises InvalidEvent (a subclass says what is
    wrong) for anything that is not exactly one CloudEvent with its required attributes."""
    check_required_attributes(kafka_raw_attributes(record))
    msg = ce_kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    try:
        return ce_kafka.from_kafka_event(msg)  # type: ignore[return-value]
    except BaseCloudEventException as exc:
        raise InvalidAttribute(f"Kafka record is not a valid CloudEvent: {exc}") from None
    except Exception as exc:  # the SDK raises what it meets (AttributeError on odd JSON): all input errors
        raise MalformedEvent(f"Kafka record is not a valid CloudEvent: {type(exc).__name__}: {exc}") from None


def from_kafka(record: KafkaRecord) -> Envelope[Any]:
    return from_cloudevent(kafka_to_cloudevent(record))


def wrap_plain_record(record: KafkaRecord, *, topic: str, partition: int, offset: int, source: str) -> CloudEvent:
    """A record that is not a CloudEvent, wrapped the way Knative's KafkaSource does."""
    attrs: dict[str, Any] = {
        "id": f"partition:{partition}/offset:{offset}",
        "type": KNATIVE_KAFKA_EVENT_TYPE,
        "source": source,
        "subject": f"partition:{partition}#{offset}",
        "specversion": "1.0",
    }
    if record.key is not None:
        attrs[EXT_PARTITION_KEY] = record.key.decode(errors="replace")
        attrs["key"] = record.key.decode(errors="replace")
    for name, value in record.headers:
        ext = "kafkaheader" + "".join(ch for ch in name.lower() if ch.isalnum())
        attrs[ext] = value.decode(errors="replace")
    ctype = record.header("content-type")
    if ctype:
        attrs["datacontenttype"] = ctype.decode(errors="replace")
    return CloudEvent(attributes=attrs, data=record.value)


# --- HTTP ----------------------------------------------------------------------------


def to_http_binary(env: Envelope[Any]) -> tuple[dict[str, str], bytes]:
    msg = ce_http.to_binary_event(to_cloudevent(env))
    return dict(msg.headers), msg.body


def to_http_structured(env: Envelope[Any]) -> tuple[dict[str, str], bytes]:
    msg = ce_http.to_structured_event(to_cloudevent(env))
    return dict(msg.headers), msg.body


def cloudevent_to_http_binary(ce: CloudEvent) -> tuple[dict[str, str], bytes]:
    msg = ce_http.to_binary_event(ce)
    return dict(msg.headers), msg.body


def cloudevent_to_http_structured(ce: CloudEvent) -> tuple[dict[str, str], bytes]:
    msg = ce_http.to_structured_event(ce)
    return dict(msg.headers), msg.body


def http_to_cloudevent(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """Decode a binary or structured HTTP CloudEvent; raises InvalidEvent (a subclass says
    what is wrong) for anything that is not exactly one CloudEvent with its required attributes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    check_required_attributes(http_raw_attributes(lowered, body))
    try:
        return ce_http.from_http_event(ce_http.HTTPMessage(headers=lowered, body=body))  # type: ignore[return-value]
    except BaseCloudEventException as exc:
        raise InvalidAttribute(f"HTTP request is not a valid CloudEvent: {exc}") from None
    except Exception as exc:  # the SDK raises what it meets (AttributeError on odd JSON): all input errors
        raise MalformedEvent(f"HTTP request is not a valid CloudEvent: {type(exc).__name__}: {exc}") from None


def from_http(headers: dict[str, str], body: bytes) -> Envelope[Any]:
    return from_cloudevent(http_to_cloudevent(headers, body))


# --- stored events (Postgres) --------------------------------------------------------


def envelope_to_json(env: Envelope[Any]) -> str:
    """The structured-mode JSON of an event, for storing it and emitting it again unchanged."""
    _headers, body = to_http_structured(env)
    return body.decode()


def envelope_from_json(text: str) -> Envelope[Any]:
    return from_http({"content-type": "application/cloudevents+json"}, text.encode())
