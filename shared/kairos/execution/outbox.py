"""The execution service's own door to the shared outbox table (migration 0001).

The executor writes its order events, fills and results in short transactions of its own
(see ``service.py``: the order row must be committed before the venue is called, so
those writes cannot ride the delivery's inbox transaction). They go to the same outbox
table every function uses, and are published right after commit; whatever a crash left
behind the outbox-relay job sends.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from kafka import KafkaProducer
from kairos.bus.kafka import send_records
from kairos.contracts.codec import KafkaRecord, to_kafka
from kairos.contracts.envelope import Envelope
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


def insert(conn: psycopg.Connection, producer: str, topic: str, env: Envelope[Any]) -> int:
    rec = to_kafka(env)
    headers = [[k, v.decode()] for k, v in rec.headers]
    row = conn.execute(
        "INSERT INTO outbox (event_id, event_type, producer, topic, record_key, headers, value) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (env.meta.id, env.meta.type, producer, topic, rec.key, json.dumps(headers), rec.value),
    ).fetchone()
    assert row is not None
    return int(row[0])


def publish(pool: ConnectionPool, producer: KafkaProducer | None, ids: Sequence[int]) -> bool:
    """Send committed rows now and mark them; on failure leave them to the outbox relay."""
    if not ids or producer is None:
        return False
    try:
        with pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, topic, record_key, headers, value FROM outbox"
                " WHERE id = ANY(%s) AND published_at IS NULL ORDER BY id",
                (list(ids),),
            ).fetchall()
            records = []
            for _id, topic, key, headers, value in rows:
                hdrs = tuple((str(k), str(v).encode()) for k, v in headers)
                records.append(
                    (topic, KafkaRecord(key=bytes(key) if key is not None else None, value=bytes(value), headers=hdrs))
                )
            send_records(producer, records)
            conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)", ([r[0] for r in rows],))
        return True
    except Exception as exc:  # the relay sends it later; never lose the command over a publish
        log.warning("publish after commit failed; the outbox relay will send it", extra={"reason": str(exc)})
        return False


class BackgroundPublisher:
    """Publishes committed outbox ids from one thread, in batches, off the command's path.

    The command's answer waits for the order's outcome to be committed, not for Kafka:
    the events are durable in the outbox already, and whatever this thread cannot send
    (crash, broker down) the outbox relay sends later.
    """

    def __init__(self, pool: ConnectionPool, producer: Callable[[], KafkaProducer | None], name: str) -> None:
        self._pool = pool
        self._producer = producer
        self._queue: queue.Queue[list[int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"{name}-publisher", daemon=True)
        self._thread.start()

    def submit(self, ids: Sequence[int]) -> None:
        if ids:
            self._queue.put(list(ids))

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = list(first), False
            while len(batch) < 2000:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch += more
            publish(self._pool, self._producer(), batch)
            if stop:
                return
