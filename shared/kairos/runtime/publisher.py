"""After-commit publishing of outbox rows, off the request path.

The answer to an event only waits for the commit: once the outbox row is durable, the
event is safe, and the relay job would send it after a crash. So publishing happens on a
background thread that drains whatever committed rows are queued, sends them in one
batch, waits for the broker's acknowledgement, and marks them published in one UPDATE.
Batching is what keeps the broker round-trip from capping a function's throughput.

A row with ``not_before`` in the future is held in memory until due; if the process stops
first, the row stays unpublished and the relay sends it once due.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

import psycopg
from kafka import KafkaProducer
from psycopg_pool import ConnectionPool

from kairos.bus.kafka import send_records
from kairos.runtime import recorder

log = logging.getLogger(__name__)

MAX_BATCH = 500


class OutboxPublisher:
    """Sends committed outbox rows in batches; failures are left to the outbox relay."""

    def __init__(
        self,
        pool: ConnectionPool,
        producer: KafkaProducer,
        name: str,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> None:
        self.pool, self.producer, self.name = pool, producer, name
        self.on_failure = on_failure
        self._queue: queue.Queue[recorder.OutboxRow | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name=f"{name}-publisher", daemon=True)
        self._thread.start()

    def submit(self, rows: Sequence[recorder.OutboxRow]) -> None:
        if rows:
            self._idle.clear()
            for row in rows:
                self._queue.put(row)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far was sent (or given up); True if idle."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        held: list[tuple[float, int, recorder.OutboxRow]] = []  # (due, id, row): a heap
        while True:
            wait = max(0.0, held[0][0] - time.time()) if held else None
            arrived: list[recorder.OutboxRow] = []
            try:
                first = self._queue.get(timeout=wait)
            except queue.Empty:
                pass  # the first held-back row is due
            else:
                if first is None:
                    if held:
                        log.info("held-back rows left to the outbox relay", extra={"rows": len(held)})
                    return
                arrived.append(first)
            while len(arrived) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                arrived.append(item)
            now = time.time()
            batch = []
            for row in arrived:
                if row.not_before is not None and row.not_before.timestamp() > now:
                    heapq.heappush(held, (row.not_before.timestamp(), row.id, row))
                else:
                    batch.append(row)
            while held and held[0][0] <= now and len(batch) < MAX_BATCH:
                batch.append(heapq.heappop(held)[2])
            if batch:
                self._send(batch)
            if self._queue.empty():
                self._idle.set()  # held-back rows are not waited for: they are not due

    def _send(self, batch: list[recorder.OutboxRow]) -> None:
        try:
            send_records(self.producer, [(r.topic, r.record) for r in batch])
            with self.pool.connection() as conn:
                recorder.mark_published(conn, [r.id for r in batch])
        except Exception as exc:
            log.warning(
                "publish after commit failed; the outbox relay will send these rows",
                extra={"rows": len(batch), "reason": str(exc)},
            )
            if self.on_failure:
                self.on_failure(exc)


def relay_unpublished(conn: psycopg.Connection, producer: KafkaProducer, *, older_than_s: float,
                      batch: int = MAX_BATCH) -> int:
    """Send the outbox rows a crash between commit and publish left behind; returns how many.

    Rows are picked by age (older than the grace period a live publisher needs), never by
    "ids above the last one seen", so a low id that commits late is not skipped; each batch
    is locked, so two relays never send the same row, then sent and marked published."""
    total = 0
    while rows := recorder.lock_unpublished(conn, older_than_s=older_than_s, limit=batch):
        send_records(producer, [(r.topic, r.record) for r in rows])
        recorder.mark_published(conn, [r.id for r in rows])
        total += len(rows)
    return total
