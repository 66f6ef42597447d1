"""After-commit publishing of outbox rows, off the request path.

The answer to an event only waits for the commit: once the outbox row is durable, the
event is safe, and the relay job would send it after a crash. So publishing happens on a
background thread that drains whatever committed rows are queued, sends them in one
batch, waits for the broker's acknowledgement, and marks them published in one UPDATE.
Batching is what keeps the broker round-trip from capping a function's throughput.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

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
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._send(batch)
            if self._queue.empty():
                self._idle.set()

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
