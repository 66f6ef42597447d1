"""archive-flush: turn staged events into objects in S3, and say when it cannot.

Each run first uploads what is already sealed (pending objects, oldest first: a crash or an
outage left them), then seals what is due and uploads that, until nothing is due, the
time budget is spent, or the endpoint fails. An endpoint failure stops the run: staged
and pending events stay in Postgres, and the next run (a minute later) tries again. The
backlog is measured at the end of every run and alerted above its thresholds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from kairos.archive import staging
from kairos.archive.objectstore import ObjectStore, S3Settings
from kairos.archive.staging import Backlog, SealPolicy
from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.ops import Alert
from kairos.errors import TransientError

log = logging.getLogger(__name__)
COMPONENT = "archive"


@dataclass
class FlushResult:
    objects: int = 0
    events: int = 0
    error: str | None = None
    backlog: Backlog = field(default_factory=lambda: Backlog(0, 0, 0.0))


@dataclass(frozen=True)
class FlushSettings:
    """``KAIROS_ARCHIVE_MAX_EVENTS`` / ``_MAX_BYTES`` / ``_MAX_AGE_S`` / ``_GRACE_S`` (when a
    group is sealed: ``SealPolicy``),
    ``KAIROS_ARCHIVE_FLUSH_BUDGET_S`` (time per run), ``KAIROS_ARCHIVE_ALERT_EVENTS`` and
    ``KAIROS_ARCHIVE_ALERT_AGE_S`` (backlog thresholds of the ARCHIVE_BACKLOG alert)."""

    policy: SealPolicy
    budget_s: float
    alert_events: int
    alert_age_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FlushSettings:
        return cls(
            policy=SealPolicy(
                max_events=int(env.get("KAIROS_ARCHIVE_MAX_EVENTS", "50000")),
                max_bytes=int(env.get("KAIROS_ARCHIVE_MAX_BYTES", str(64 * 1024 * 1024))),
                max_age_s=float(env.get("KAIROS_ARCHIVE_MAX_AGE_S", "7200")),
                grace_s=float(env.get("KAIROS_ARCHIVE_GRACE_S", "120")),
            ),
            budget_s=float(env.get("KAIROS_ARCHIVE_FLUSH_BUDGET_S", "20")),
            alert_events=int(env.get("KAIROS_ARCHIVE_ALERT_EVENTS", "500000")),
            alert_age_s=float(env.get("KAIROS_ARCHIVE_ALERT_AGE_S", "10800")),
        )


def flush(conn: psycopg.Connection, store: ObjectStore, policy: SealPolicy, *, force: bool = False,
          budget_s: float | None = None) -> FlushResult:
    """Upload pending objects, then seal and upload what is due (everything with ``force``).

    ``conn`` must be in autocommit mode: each step is its own transaction, so a crash at
    any point leaves a state the next run finishes (see ``kairos.archive.staging``).
    """
    result = FlushResult()
    deadline = None if budget_s is None else time.monotonic() + budget_s
    prefix = store.settings.prefix
    try:
        while deadline is None or time.monotonic() < deadline:
            items = staging.pending(conn) or staging.seal_ready(conn, prefix, policy, force=force)
            if not items:
                break
            for item in items:
                built = staging.rebuild(conn, prefix, item)
                store.put(built.key, built.body, sha256=built.sha256, count=built.count)
                staging.complete(conn, built.key)
                result.objects += 1
                result.events += built.count
                if deadline is not None and time.monotonic() >= deadline:
                    break
    except TransientError as exc:
        result.error = str(exc)
        log.warning("archive upload failed; staged events stay in Postgres and the next run retries",
                    extra={"reason": result.error})
    result.backlog = staging.backlog(conn)
    if result.objects:
        log.info("archived", extra={"objects": result.objects, "events": result.events})
    return result


def backlog_alerts(result: FlushResult, settings: FlushSettings) -> list[Alert]:
    """ARCHIVE_BACKLOG when the backlog is above a threshold, and ARCHIVE_UPLOAD_FAILED
    whenever the endpoint failed (so an outage is seen before the backlog is large)."""
    alerts: list[Alert] = []
    b = result.backlog
    details: dict[str, Any] = {"events": b.events, "pending_objects": b.pending_objects,
                               "oldest_age_s": round(b.oldest_age_s, 1)}
    if result.error:
        alerts.append(Alert(
            severity="warning", code="ARCHIVE_UPLOAD_FAILED", component=COMPONENT,
            message=f"archive upload failed; {b.events} events wait in Postgres: {result.error[:300]}",
            action="check the S3 endpoint, bucket and credentials (kairos-archive-s3 Secret);"
                   " nothing is lost, archive-flush retries every minute",
            details=details,
        ))
    if b.events >= settings.alert_events or b.oldest_age_s >= settings.alert_age_s:
        alerts.append(Alert(
            severity="critical" if b.oldest_age_s >= 24 * 3600 else "warning",
            code="ARCHIVE_BACKLOG", component=COMPONENT,
            message=f"{b.events} events not yet archived; the oldest waited {b.oldest_age_s / 60:.0f} min",
            action="restore the S3 endpoint before the topics' retention (1-30 days) runs out for events not yet"
                   " staged; staged events are safe in Postgres (watch its disk)",
            details=details,
        ))
    return alerts


def run_job(cause: Envelope[Any], env: Mapping[str, str], source: str,
            store: ObjectStore | None = None) -> list[Envelope[Alert]]:
    """One archive-flush tick on its own autocommit connection (the tick's transaction only
    dedupes the tick): flush within the budget, then the backlog alerts as events."""
    settings = FlushSettings.from_env(env)
    store = store or ObjectStore(S3Settings.from_env(env))
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        result = flush(conn, store, settings.policy, budget_s=settings.budget_s)
    return [
        derive_event(cause, alert, source=source, partition_key=COMPONENT, index=i)
        for i, alert in enumerate(backlog_alerts(result, settings))
    ]
