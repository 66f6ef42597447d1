"""Counters of one delivery (subscription or cron), read by ``kairos dev``'s live view.

Besides the counters it keeps, per partition, the committed offset and the high
watermark the consumer last saw in a fetch answer, so ``lag`` (records not yet
answered) is known without asking the broker for end offsets, which Tansu reports
unreliably.
"""

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
    restarts: int = 0  # times the delivery's thread died and was started again
    last_error: str = ""  # why it last died
    committed: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> next offset
    highwater: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> broker's end offset
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for key, value in deltas.items():
                setattr(self, key, getattr(self, key) + value)

    def crashed(self, reason: str) -> None:
        with self._lock:
            self.restarts += 1
            self.last_error = reason

    def commit(self, topic: str, partition: int, offset: int) -> None:
        with self._lock:
            self.committed[f"{topic}:{partition}"] = offset

    def seen_highwater(self, topic: str, partition: int, offset: int) -> None:
        with self._lock:
            self.highwater[f"{topic}:{partition}"] = offset

    def knows_committed(self, topic: str, partition: int) -> bool:
        with self._lock:
            return f"{topic}:{partition}" in self.committed

    def lag(self) -> dict[str, int]:
        """Per partition: records the broker holds that were not committed yet."""
        with self._lock:
            return {tp: max(hw - self.committed.get(tp, 0), 0) for tp, hw in self.highwater.items()}

    def snapshot(self) -> dict[str, object]:
        lag = self.lag()
        with self._lock:
            data = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
            data["committed"] = dict(self.committed)
            data["highwater"] = dict(self.highwater)
        data["lag"] = lag
        return data
