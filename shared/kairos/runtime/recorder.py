"""The process recorder: inbox and outbox rows in the caller's transaction.

- ``claim``: record (consumer, event id) in the inbox; False means "seen before".
- ``append_outbox``: the events to publish, written with the state change.
- ``unpublished`` / ``mark_published``: what the after-commit publisher and the relay use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from kairos.contracts.codec import KafkaRecord, to_kafka
from kairos.contracts.envelope import Envelope


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    record: KafkaRecord
    event_id: str
    not_before: datetime | None = None  # publish no earlier than this (None: at once)


def claim(conn: psycopg.Connection, consumer: str, event_id: str, event_type: str) -> bool:
    """Record the event in the inbox. False when this consumer already handled it.

    A concurrent duplicate blocks on the primary key until the first transaction ends,
    then sees the row: exactly one of them runs the handler.
    """
    row = conn.execute(
        "INSERT INTO inbox (consumer, event_id, event_type) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (consumer, event_id, event_type),
    ).fetchone()
    return row is not None


def claim_many(conn: psycopg.Connection, consumer: str, keys: Sequence[tuple[str, str]]) -> set[str]:
    """Claim many (event id, event type) in one statement; returns the ids claimed now.

    Ids already in the inbox (or repeated in ``keys``) are claimed once at most.
    """
    unique = dict(keys)
    if not unique:
        return set()
    if len(unique) == 1:  # one delivery (the HTTP path): the plain insert is the cheaper statement
        ((key, event_type),) = unique.items()
        return {key} if claim(conn, consumer, key, event_type) else set()
    rows = conn.execute(
        "INSERT INTO inbox (consumer, event_id, event_type)"
        " SELECT %s, k, t FROM unnest(%s::text[], %s::text[]) AS u(k, t)"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        (consumer, list(unique), list(unique.values())),
    ).fetchall()
    return {r[0] for r in rows}


_INSERT_OUTBOX = (
    "INSERT INTO outbox (event_id, event_type, producer, topic, record_key, headers, value, not_before) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)


def append_outbox(
    conn: psycopg.Connection,
    producer: str,
    items: Sequence[tuple[str, Envelope[Any]]],
    not_before: Mapping[str, datetime] | None = None,
) -> list[OutboxRow]:
    """Write (topic, event) pairs to the outbox; returns the rows (with ids) in order.

    ``not_before``: event id -> earliest publish time, for outputs that must wait. Several
    rows go in one pipelined ``executemany`` (one round trip, not one per row).
    """
    records = [(topic, env, to_kafka(env), (not_before or {}).get(env.meta.id)) for topic, env in items]
    params = [
        (env.meta.id, env.meta.type, producer, topic, rec.key, json.dumps([[k, v.decode()] for k, v in rec.headers]),
         rec.value, due)
        for topic, env, rec, due in records
    ]
    ids: list[int] = []
    if len(params) == 1:
        row = conn.execute(_INSERT_OUTBOX, params[0]).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    elif params:
        with conn.cursor() as cur:
            cur.executemany(_INSERT_OUTBOX, params, returning=True)
            while True:
                got = cur.fetchone()
                assert got is not None
                ids.append(int(got[0]))
                if not cur.nextset():
                    break
    return [
        OutboxRow(id=rid, topic=topic, record=rec, event_id=env.meta.id, not_before=due)
        for rid, (topic, env, rec, due) in zip(ids, records, strict=True)
    ]


def _row(r: tuple[Any, ...]) -> OutboxRow:
    rid, topic, key, headers, value, event_id = r
    hdrs = tuple((str(k), str(v).encode()) for k, v in headers)
    return OutboxRow(
        id=int(rid),
        topic=topic,
        record=KafkaRecord(key=bytes(key) if key is not None else None, value=bytes(value), headers=hdrs),
        event_id=event_id,
    )


_SELECT = "SELECT id, topic, record_key, headers, value, event_id FROM outbox"


def lock_unpublished(conn: psycopg.Connection, *, older_than_s: float, limit: int) -> list[OutboxRow]:
    """Unpublished rows older than a grace period (and due that long), locked so two relays
    never share one. A row held back by ``not_before`` is left to the publisher until then."""
    rows = conn.execute(
        _SELECT + " WHERE published_at IS NULL"
        " AND greatest(created_at, coalesce(not_before, created_at)) < now() - make_interval(secs => %s)"
        " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (older_than_s, limit),
    ).fetchall()
    return [_row(r) for r in rows]


def mark_published(conn: psycopg.Connection, ids: Sequence[int]) -> None:
    conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)", (list(ids),))


def backlog(conn: psycopg.Connection) -> int:
    """Rows due and not yet published (held-back rows are not a backlog until due)."""
    row = conn.execute(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND coalesce(not_before, now()) <= now()"
    ).fetchone()
    return int(row[0]) if row else 0


def append_record(
    conn: psycopg.Connection, producer: str, topic: str, event_id: str, event_type: str, record: KafkaRecord
) -> int:
    """Write one ready-made Kafka record to the outbox (a dead letter replayed as it came); its id."""
    headers = json.dumps([[k, v.decode(errors="replace")] for k, v in record.headers])
    row = conn.execute(_INSERT_OUTBOX, (event_id, event_type, producer, topic, record.key, headers, record.value, None))
    got = row.fetchone()
    assert got is not None
    return int(got[0])
