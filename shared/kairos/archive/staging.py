"""Postgres side of the archive: staging events, sealing them into objects, the manifest.

The life of an archived event:

1. **staged** (archiver, in its handling transaction): one ``archive_staging`` row; the
   inbox and ``UNIQUE (topic, event_id)`` make a redelivery a no-op.
2. **sealed** (archive-flush, one transaction): a group of staged rows of one topic and
   hour is given an object key, and the object's manifest row is written as ``pending``
   with its count, id range and checksum. The key and bytes are a pure function of the
   rows, so they are known before anything is uploaded.
3. **uploaded**, then **completed** (one transaction): the manifest row becomes
   ``complete`` and the staged rows are deleted.

A crash after 2 leaves a pending row whose object is rebuilt from the same rows (same
key, same bytes) and uploaded again; a crash between the upload and 3 uploads the same
bytes to the same key once more. No path writes an object the manifest does not name
first, and no event is deleted from staging before its object is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from kairos.archive.layout import Built, Line, build, hour_start, partition_for
from kairos.contracts.codec import envelope_to_json
from kairos.contracts.envelope import Envelope


@dataclass(frozen=True)
class SealPolicy:
    """When the staged events of one topic and hour become an object:

    - the hour is over and nothing arrived for it in the last ``grace_s`` (one object per
      topic and hour, the normal case; late events and backfills of old hours settle first);
    - ``max_events`` or ``max_bytes`` reached (a busy hour is split into several objects);
    - the oldest of them waited ``max_age_s`` (bounds how far behind the archive can be).

    Fewer, bigger objects read faster in Spark/DuckDB and cost fewer requests; a topic-hour
    is the unit they are queried by."""

    max_events: int = 50_000
    max_bytes: int = 64 * 1024 * 1024
    max_age_s: float = 7200.0
    grace_s: float = 120.0


def stage(conn: psycopg.Connection, topic: str, partitions: int, env: Envelope[Any]) -> bool:
    """Stage one event for ``topic``; False when it was staged before."""
    row = conn.execute(
        "INSERT INTO archive_staging (topic, event_id, partition, event_time, hour_start, envelope)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (topic, event_id) DO NOTHING RETURNING 1",
        (
            topic,
            env.meta.id,
            partition_for(env.meta.partition_key, partitions),
            env.meta.time,
            hour_start(env.meta.time),
            envelope_to_json(env),
        ),
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class Pending:
    """A sealed object not yet known to be uploaded: what the manifest says about it."""

    key: str
    topic: str
    hour: datetime
    count: int
    sha256: str
    built: Built | None = None  # the bytes, when this process just sealed it (saves a rebuild)


def _lines(rows: Sequence[tuple[Any, ...]], topic: str) -> list[Line]:
    return [Line(topic=topic, partition=int(p), arrival=int(seq), envelope=str(text)) for seq, p, text in rows]


def seal_ready(conn: psycopg.Connection, prefix: str, policy: SealPolicy, *, force: bool = False,
               limit: int = 64) -> list[Pending]:
    """Seal every group that is due (all groups with ``force``) into pending objects, at
    most ``limit`` objects per call, in one transaction. Rows another flusher is sealing
    are skipped (``SKIP LOCKED``), so two flushers never seal the same event twice."""
    sealed: list[Pending] = []
    with conn.transaction():
        groups = conn.execute(
            "SELECT topic, hour_start, %s"
            "   OR min(staged_at) < now() - make_interval(secs => %s)"
            "   OR (hour_start + interval '1 hour' < now() AND max(staged_at) < now() - make_interval(secs => %s))"
            " FROM archive_staging WHERE object_key IS NULL GROUP BY topic, hour_start"
            " HAVING %s OR count(*) >= %s OR sum(length(envelope)) >= %s"
            "   OR min(staged_at) < now() - make_interval(secs => %s)"
            "   OR (hour_start + interval '1 hour' < now() AND max(staged_at) < now() - make_interval(secs => %s))"
            " ORDER BY min(seq)",
            (force, policy.max_age_s, policy.grace_s,
             force, policy.max_events, policy.max_bytes, policy.max_age_s, policy.grace_s),
        ).fetchall()  # fmt: skip
        for topic, hour, whole_group in groups:
            while len(sealed) < limit:
                rows = conn.execute(
                    "SELECT seq, partition, envelope FROM archive_staging"
                    " WHERE object_key IS NULL AND topic = %s AND hour_start = %s"
                    " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                    (topic, hour, policy.max_events),
                ).fetchall()
                chunk = _cap_bytes(rows, policy.max_bytes)
                full = len(chunk) < len(rows) or len(chunk) == policy.max_events
                if not chunk or not (full or whole_group):  # a size-due group keeps its remainder staged
                    break
                built = build(prefix, topic, hour, _lines(chunk, topic))
                _record_pending(conn, topic, hour, built, [r[0] for r in chunk])
                sealed.append(Pending(built.key, topic, hour, built.count, built.sha256, built))
    return sealed


def _cap_bytes(rows: list[tuple[Any, ...]], max_bytes: int) -> list[tuple[Any, ...]]:
    total = 0
    for i, row in enumerate(rows):
        total += len(row[2])
        if total > max_bytes and i > 0:
            return rows[:i]
    return rows


def _record_pending(conn: psycopg.Connection, topic: str, hour: datetime, built: Built, seqs: list[int]) -> None:
    conn.execute("UPDATE archive_staging SET object_key = %s WHERE seq = ANY(%s)", (built.key, seqs))
    conn.execute(
        "INSERT INTO archive_objects (object_key, topic, dt, hour, event_count, first_event_id, last_event_id,"
        " first_seq, last_seq, min_time, max_time, bytes, sha256, status)"
        " SELECT %s, %s, %s, %s, %s,"
        "  (SELECT event_id FROM archive_staging WHERE seq = %s),"
        "  (SELECT event_id FROM archive_staging WHERE seq = %s),"
        "  %s, %s, min(event_time), max(event_time), %s, %s, 'pending'"
        " FROM archive_staging WHERE object_key = %s",
        (built.key, topic, hour.date(), hour.hour, built.count, built.first_arrival, built.last_arrival,
         built.first_arrival, built.last_arrival, len(built.body), built.sha256, built.key),
    )


def pending(conn: psycopg.Connection, limit: int = 64) -> list[Pending]:
    """Sealed objects not completed yet, oldest first (a crash left them, or they are new)."""
    rows = conn.execute(
        "SELECT object_key, topic, dt, hour, event_count, sha256 FROM archive_objects"
        " WHERE status = 'pending' ORDER BY id LIMIT %s",
        (limit,),
    ).fetchall()
    from datetime import UTC
    from datetime import datetime as dt_

    return [
        Pending(key, topic, dt_(d.year, d.month, d.day, h, tzinfo=UTC), int(n), sha)
        for key, topic, d, h, n, sha in rows
    ]


def rebuild(conn: psycopg.Connection, prefix: str, item: Pending) -> Built:
    """The bytes of a pending object, from its staged rows; raises RuntimeError when they
    no longer give the checksum the manifest recorded (the rows were changed by hand)."""
    if item.built is not None:
        return item.built
    rows = conn.execute(
        "SELECT seq, partition, envelope FROM archive_staging WHERE object_key = %s ORDER BY seq", (item.key,)
    ).fetchall()
    if not rows:
        raise RuntimeError(f"pending archive object {item.key} has no staged rows left; see kairos archive verify")
    built = build(prefix, item.topic, item.hour, _lines(rows, item.topic))
    if built.key != item.key or built.sha256 != item.sha256:
        raise RuntimeError(
            f"pending archive object {item.key} rebuilt as {built.key} (sha256 {built.sha256[:12]}): its staged rows"
            " changed since it was sealed; leave it pending and investigate"
        )
    return built


def complete(conn: psycopg.Connection, key: str) -> None:
    """Mark the object complete and drop its staged rows, in one transaction."""
    with conn.transaction():
        conn.execute(
            "UPDATE archive_objects SET status = 'complete', completed_at = now() WHERE object_key = %s", (key,)
        )
        conn.execute("DELETE FROM archive_staging WHERE object_key = %s", (key,))


@dataclass(frozen=True)
class Backlog:
    """Events staged and not yet in a complete object, and how long the oldest waited."""

    events: int
    pending_objects: int
    oldest_age_s: float


def backlog(conn: psycopg.Connection) -> Backlog:
    row = conn.execute(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(staged_at)), 0) FROM archive_staging"
    ).fetchone()
    pend = conn.execute("SELECT count(*) FROM archive_objects WHERE status = 'pending'").fetchone()
    assert row is not None and pend is not None
    return Backlog(events=int(row[0]), pending_objects=int(pend[0]), oldest_age_s=float(row[1]))
