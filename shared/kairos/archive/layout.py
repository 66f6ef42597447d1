"""What an archive object is: its key, its bytes, and how to read it back.

An object holds the events of one topic and one UTC hour (of the events' ``time``), as
gzip-compressed JSON Lines, one event per line::

    {"topic": "raw.near_intents.quote", "partition": 3, "arrival": 1207, "event": {<CloudEvent>}}

``event`` is the full structured-mode CloudEvent (every attribute and extension, ``data``
as JSON); ``partition`` is the Kafka partition the event's key maps to (murmur2, as every
Kafka producer computes it), ``arrival`` its position in the archiver's arrival order, which
within one partition is the topic's order. Lines are in arrival order.

Keys are ``<prefix><topic>/dt=YYYY-MM-DD/hour=HH/<topic>-<first arrival>-<sha256[:16]>.jsonl.gz``
(Hive-style partitions that Spark and DuckDB turn into columns). Both the key and the bytes
are a pure function of the lines (gzip's header time is fixed at 0), so building the same
object twice after a crash gives the same key and the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from kafka.partitioner.default import murmur2

ARCHIVED_FAMILIES = ("raw.", "norm.", "exec.", "event.", "signal.", "risk.")
SUFFIX = ".jsonl.gz"
GZIP_LEVEL = 6


def is_archived_topic(name: str) -> bool:
    """Raw, normalized, execution, position/strategy, signal and risk topics are archived (the
    inputs of a backtest and the audit trail, refusals included); commands, operator alerts
    and dead letters are not (commands are re-derived by a replay, dead letters stay on their
    topics)."""
    return name.startswith(ARCHIVED_FAMILIES)


def partition_for(key: str | None, partitions: int) -> int:
    """The partition a Kafka producer's default partitioner picks for ``key`` (-1: no key,
    which a producer spreads at random)."""
    if not key:
        return -1
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def hour_start(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Line:
    """One archived event as staged: where it came from and its CloudEvent JSON text."""

    topic: str
    partition: int
    arrival: int
    envelope: str  # structured-mode CloudEvent JSON

    def encode(self) -> bytes:
        head = json.dumps({"topic": self.topic, "partition": self.partition, "arrival": self.arrival})
        return f'{head[:-1]}, "event": {self.envelope}}}\n'.encode()


@dataclass(frozen=True)
class Built:
    """An object's bytes and what the manifest records about it."""

    key: str
    body: bytes
    sha256: str
    count: int
    first_arrival: int
    last_arrival: int


def object_key(prefix: str, topic: str, hour: datetime, first_arrival: int, sha256: str) -> str:
    h = hour_start(hour)
    return f"{prefix}{topic}/dt={h:%Y-%m-%d}/hour={h:%H}/{topic}-{first_arrival:012d}-{sha256[:16]}{SUFFIX}"


def build(prefix: str, topic: str, hour: datetime, lines: Sequence[Line]) -> Built:
    """The object for ``lines`` (in arrival order). Raises ValueError for an empty list."""
    if not lines:
        raise ValueError("an archive object needs at least one event")
    raw = b"".join(line.encode() for line in lines)
    body = gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)
    digest = hashlib.sha256(body).hexdigest()
    return Built(
        key=object_key(prefix, topic, hour, lines[0].arrival, digest),
        body=body,
        sha256=digest,
        count=len(lines),
        first_arrival=lines[0].arrival,
        last_arrival=lines[-1].arrival,
    )


@dataclass(frozen=True)
class ArchivedEvent:
    """One line read back from an object."""

    topic: str
    partition: int
    arrival: int
    event: dict[str, object]

    @property
    def id(self) -> str:
        return str(self.event["id"])


def read_lines(body: bytes) -> Iterator[ArchivedEvent]:
    """The events of an object's bytes; raises ValueError (gzip or JSON) when it is corrupt."""
    try:
        text = gzip.decompress(body)
    except (OSError, EOFError) as exc:
        raise ValueError(f"not a gzip stream: {exc}") from None
    for n, raw in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(raw)
            yield ArchivedEvent(str(obj["topic"]), int(obj["partition"]), int(obj["arrival"]), dict(obj["event"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {n} is not an archived event: {exc}") from None


def days(start: date, end: date) -> Iterable[date]:
    """Every day from ``start`` to ``end`` inclusive."""
    from datetime import timedelta

    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)
