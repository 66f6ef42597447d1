"""What the live view shows, gathered from the running system once a second.

Three sources, each already produced by the parts themselves (the view adds no
instrumentation of its own):
- each function's ``/metrics`` (Prometheus text): events by outcome, emitted, in flight,
  and the handling-time histogram from which p50/p99 over the last ~10 s are derived;
- the delivery process's stats file: per subscription delivered/retried/dead-lettered
  and lag (high watermark minus committed offset, per partition);
- the processes' JSON logs: warnings and errors become the "recent alerts" lines.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass
class FunctionMetrics:
    """Counters of one function process, scraped from its ``/metrics``."""

    events: dict[str, float] = field(default_factory=dict)  # outcome -> count
    emitted: float = 0.0
    in_flight: float = 0.0
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (upper bound, cumulative count)
    publish_failures: float = 0.0

    @property
    def received(self) -> float:
        return sum(self.events.values())

    @property
    def errors(self) -> float:
        return self.events.get("rejected", 0.0) + self.events.get("failed", 0.0)


def parse_metrics(text: str, function: str) -> FunctionMetrics:
    """The Kairos metrics of ``function`` in a Prometheus text exposition."""
    out = FunctionMetrics()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("function") != function:
                continue
            if sample.name == "kairos_events_total":
                out.events[sample.labels.get("outcome", "?")] = sample.value
            elif sample.name == "kairos_events_emitted_total":
                out.emitted = sample.value
            elif sample.name == "kairos_events_in_flight":
                out.in_flight = sample.value
            elif sample.name == "kairos_publish_failures_total":
                out.publish_failures = sample.value
            elif sample.name == "kairos_event_handling_seconds_bucket":
                out.buckets.append((float(sample.labels["le"]), sample.value))
    out.buckets.sort()
    return out


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """``q``-quantile of a cumulative histogram, interpolated inside the bucket (as PromQL does)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


def bucket_delta(new: list[tuple[float, float]], old: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Histogram of the observations made between two scrapes (old may be empty)."""
    previous = dict(old)
    return [(bound, max(count - previous.get(bound, 0.0), 0.0)) for bound, count in new]


@dataclass
class FunctionView:
    """One row of the view: totals across restarts and recent latencies."""

    name: str
    ready: bool = False
    restarts: int = 0
    received: float = 0.0
    emitted: float = 0.0
    errors: float = 0.0
    duplicates: float = 0.0
    in_flight: float = 0.0
    p50: float | None = None
    p99: float | None = None


class FunctionTracker:
    """Keeps a function's counters monotonic across restarts and a 10 s latency window."""

    def __init__(self, name: str, window: int = 10) -> None:
        self.name = name
        self.base = FunctionMetrics()
        self.last = FunctionMetrics()
        self.history: deque[list[tuple[float, float]]] = deque(maxlen=window)

    def update(self, current: FunctionMetrics | None) -> None:
        if current is None:
            return
        if current.received < self.last.received:  # the process restarted: counters began at 0
            for outcome, count in self.last.events.items():
                self.base.events[outcome] = self.base.events.get(outcome, 0.0) + count
            self.base.emitted += self.last.emitted
            self.history.clear()
        self.last = current
        self.history.append(current.buckets)

    def view(self, ready: bool, restarts: int) -> FunctionView:
        cur, base = self.last, self.base
        recent = bucket_delta(self.history[-1], self.history[0]) if len(self.history) > 1 else []
        if not recent or recent[-1][1] == 0:
            recent = cur.buckets
        return FunctionView(
            name=self.name,
            ready=ready,
            restarts=restarts,
            received=cur.received + sum(base.events.values()),
            emitted=cur.emitted + base.emitted,
            errors=cur.errors + base.errors,
            duplicates=cur.events.get("duplicate", 0.0) + base.events.get("duplicate", 0.0),
            in_flight=cur.in_flight,
            p50=quantile(recent, 0.5),
            p99=quantile(recent, 0.99),
        )


def scrape(client: httpx.Client, url: str, function: str) -> FunctionMetrics | None:
    """The function's metrics, or None when it does not answer (down, restarting)."""
    try:
        resp = client.get(url + "/metrics", timeout=0.5)
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    return parse_metrics(resp.text, function)


@dataclass
class SubscriptionView:
    name: str
    kind: str
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    failed: int = 0
    in_flight: int = 0
    lag: int = 0
    partitions_seen: int = 0
    restarts: int = 0
    last_error: str = ""


def read_delivery_stats(path: Path) -> tuple[float, list[SubscriptionView]]:
    """(time written, one view per delivery) from the stats file; (0, []) when absent."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return 0.0, []
    views = []
    for d in data.get("deliveries", []):
        lag = d.get("lag") or {}
        views.append(
            SubscriptionView(
                name=d["name"],
                kind=d["kind"],
                delivered=d.get("delivered", 0),
                retried=d.get("retried", 0),
                dead_lettered=d.get("dead_lettered", 0),
                failed=d.get("failed", 0),
                in_flight=d.get("in_flight", 0),
                lag=sum(lag.values()),
                partitions_seen=len(d.get("highwater") or {}),
                restarts=d.get("restarts", 0),
                last_error=d.get("last_error", ""),
            )
        )
    return float(data.get("written_at", 0.0)), views


@dataclass
class Alert:
    at: float
    source: str
    level: str
    message: str


class LogTail:
    """Reads new lines of the children's JSON logs and keeps warnings and errors."""

    def __init__(self, size: int = 8) -> None:
        self.offsets: dict[Path, int] = {}
        self.alerts: deque[Alert] = deque(maxlen=size)

    def poll(self, logs: dict[str, Path]) -> None:
        for name, path in logs.items():
            try:
                with path.open("rb") as fh:
                    fh.seek(self.offsets.get(path, 0))
                    chunk = fh.read(256 * 1024)
                    self.offsets[path] = fh.tell()
            except OSError:
                continue
            for line in chunk.splitlines():
                self._line(name, line)

    def _line(self, name: str, line: bytes) -> None:
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if b"Traceback" in line or b"Error" in line[:80]:
                self.alerts.append(Alert(time.time(), name, "error", line.decode(errors="replace")[:200]))
            return
        if not isinstance(rec, dict) or rec.get("level") not in ("warning", "error", "critical"):
            return
        if str(rec.get("logger", "")).startswith("kafka.") and rec.get("level") == "warning":
            return  # kafka-python's own timing warnings: noise next to the system's alerts
        detail = rec.get("reason") or rec.get("error") or rec.get("code") or ""
        text = str(rec.get("msg", "")) + (f": {detail}" if detail else "")
        if rec.get("subscription"):
            text += f" ({rec['subscription']}{', HTTP ' + str(rec['status']) if rec.get('status') else ''})"
        self.alerts.append(Alert(time.time(), name, str(rec["level"]), text[:200]))


ALERT_TYPE = "kairos.ops.alert"


class AlertFeed:
    """Follows the catalog's alert topics (``kairos.ops.alert`` events) in a thread.

    These are the system's own alerts (clock drift, reconciliation findings, SLO
    breaches), as opposed to log lines; the view shows them with the log warnings.
    Reads from the beginning without a consumer group: the local broker is new each run.
    """

    def __init__(self, bootstrap: str, profile: str, topics: list[str], size: int = 20) -> None:
        import threading

        self.bootstrap, self.profile, self.topics = bootstrap, profile, topics
        self.alerts: deque[Alert] = deque(maxlen=size)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="alert-feed", daemon=True)
        if topics:
            self.thread.start()

    def _run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError

        from kairos.bus.kafka import consumer_settings
        from kairos.contracts.codec import KafkaRecord, from_kafka

        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap.split(","),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                client_id="kairos-dev-alerts",
                **consumer_settings(self.profile),
            )
            tps = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or set())]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
        except KafkaError:
            return  # the view still shows log alerts
        try:
            while not self.stop.is_set():
                for batch in consumer.poll(timeout_ms=200).values():
                    for rec in batch:
                        headers = tuple((k, v or b"") for k, v in rec.headers)
                        try:
                            env = from_kafka(KafkaRecord(key=rec.key, value=rec.value or b"", headers=headers))
                        except Exception:  # not an alert we can read: skip it, never stop the view
                            continue
                        data = env.data
                        level = "error" if data.severity == "critical" else data.severity
                        text = f"[{data.code}] {data.message}" + (f" → {data.action}" if data.action else "")
                        self.alerts.append(Alert(env.meta.time.timestamp(), data.component, level, text[:200]))
        finally:
            consumer.close()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(5)
