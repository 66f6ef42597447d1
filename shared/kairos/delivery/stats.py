"""Counters of one delivery (subscription or cron), read by ``kairos dev``'s live view."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class DeliveryStats:
    name: str
    kind: str  # "kafka" or "ping"
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    failed: int = 0
    in_flight: int = 0
    committed: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> next offset
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for key, value in deltas.items():
                setattr(self, key, getattr(self, key) + value)

    def commit(self, topic: str, partition: int, offset: int) -> None:
        with self._lock:
            self.committed[f"{topic}:{partition}"] = offset

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            data = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
            data["committed"] = dict(self.committed)
        return data
