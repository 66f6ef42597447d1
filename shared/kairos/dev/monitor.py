"""Builds the view's snapshot from the running processes, the delivery stats and Postgres."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from kairos.dev.observe import (
    ALERT_TYPE,
    Alert,
    AlertFeed,
    FunctionMetrics,
    FunctionTracker,
    LogTail,
    read_delivery_stats,
    scrape,
)
from kairos.dev.state import StateDir
from kairos.dev.supervisor import EventLog, ManagedProcess
from kairos.dev.view import Snapshot

log = logging.getLogger(__name__)


class Monitor:
    """Scrapes each function, reads the stats file and the outbox, tails the logs."""

    def __init__(
        self,
        state: StateDir,
        procs: Sequence[ManagedProcess],
        events: EventLog,
        database_url: str,
        bootstrap: str,
        profile: str,
    ) -> None:
        from kairos.catalog import load_catalog

        self.state = state
        self.procs = procs
        self.events = events
        self.database_url = database_url
        self.client = httpx.Client(limits=httpx.Limits(max_connections=32))
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="scrape")
        self.trackers: dict[str, FunctionTracker] = {}
        self.tail = LogTail()
        self.stats_written_at = 0.0
        self._conn: psycopg.Connection | None = None
        self.last: Snapshot | None = None
        alert_topics = [t.name for t in load_catalog().topics if ALERT_TYPE in t.types]
        self.feed = AlertFeed(bootstrap, profile, alert_topics)

    def outbox_backlog(self) -> int | None:
        """Unpublished outbox rows, or None when Postgres cannot be asked right now."""
        from kairos.runtime.recorder import backlog

        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=2)
            return backlog(self._conn)
        except psycopg.Error as exc:
            log.warning("cannot read the outbox backlog", extra={"reason": str(exc)})
            self._conn = None
            return None

    def trading(self) -> list[str]:
        """The risk guardian's latest decisions and the portfolios (empty when Postgres cannot answer)."""
        from kairos.dev import strategies
        from kairos.dev.trading import lines

        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=2)
            return strategies.lines(self._conn) + lines(self._conn)
        except psycopg.Error as exc:
            log.warning("cannot read risk decisions and portfolios", extra={"reason": str(exc)})
            return []

    def snapshot(self, phase: str, elapsed: float, note: str = "") -> Snapshot:
        fns = [p for p in self.procs if p.kind == "function" and p.url]
        # all at once: one slow function must not stretch the refresh to seconds
        probes = list(self.pool.map(self._probe, fns))
        functions = []
        for proc, (metrics, ready) in zip(fns, probes, strict=True):
            tracker = self.trackers.setdefault(proc.name, FunctionTracker(proc.name))
            tracker.update(metrics)
            functions.append(tracker.view(ready, proc.restarts))
        self.stats_written_at, subs = read_delivery_stats(self.state.stats_file)
        self.tail.poll({p.name: p.log_path for p in self.procs})
        # supervisor events (crashes, restarts) are all kept: log noise must not push them out
        alerts = sorted(
            [
                *self.tail.alerts,
                *self.feed.alerts,
                *(Alert(e.at, e.name, e.level, e.message) for e in self.events.events),
            ],
            key=lambda a: a.at,
        )
        snap = Snapshot(elapsed, phase, functions, subs, alerts, self.outbox_backlog(), note, self.trading())
        self.last = snap
        return snap

    def _probe(self, proc: ManagedProcess) -> tuple[FunctionMetrics | None, bool]:
        assert proc.url is not None
        metrics = scrape(self.client, proc.url, proc.name) if proc.running() else None
        return metrics, metrics is not None and proc.is_ready(self.client)

    def left_now(self) -> dict[str, int]:
        """What was not delivered according to the last snapshot (for an immediate stop)."""
        snap = self.last
        if snap is None:
            return {}
        left = {s.name: s.lag for s in snap.subscriptions if s.lag}
        if snap.outbox_backlog:
            left["outbox"] = snap.outbox_backlog
        return left

    def close(self) -> None:
        self.feed.close()
        self.pool.shutdown(wait=True)
        self.client.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
