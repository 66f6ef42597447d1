"""The clock guard's I/O: ask each account's venue for its time and store the offset.

Only the venue's public server time is read (its package's ``PublicVenue``): the guard
holds no keys. One reading per
account (``venue_clock.venue_key`` = account), because the executor checks the offset of
the account it is about to trade on.
"""

from __future__ import annotations

import logging
import time

import psycopg
from kairos.catalog import load_catalog
from kairos.contracts.envelope import new_event, stable_id
from kairos.contracts.ops import Alert
from kairos.execution import accounts, clock, metrics
from kairos.runtime.recorder import OutboxRow, append_outbox
from kairos.venues import registry
from kairos.venues.port import PublicVenue
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


def check_all(conn: psycopg.Connection, *, timeout_ms: int = 3000) -> list[Alert]:
    """Measure and store every LIVE account's venue offset; alerts for > 1 s and failures."""
    alerts: list[Alert] = []
    readers: dict[tuple[str, str | None], PublicVenue] = {}  # accounts on one host share a client
    for acct in accounts.all_accounts(conn):
        if acct.mode != "live":
            continue
        try:
            venue = readers.get((acct.venue, acct.base_url))
            if venue is None:
                venue = registry.definition(acct.venue).public(acct.base_url, timeout_ms)
                readers[(acct.venue, acct.base_url)] = venue
            before = int(time.time() * 1000)
            venue_ms = venue.server_time_ms()
            after = int(time.time() * 1000)
        except Exception as exc:  # a failed measurement changes nothing stored
            log.warning("venue time unavailable", extra={"account": acct.account, "reason": str(exc)})
            alerts.append(
                Alert(
                    severity="warning",
                    code="CLOCK_UNMEASURED",
                    component="clock-guard",
                    message=f"cannot read the venue time of {acct.account}: {type(exc).__name__}",
                    action="check venue connectivity",
                    details={"account": acct.account},
                )
            )
            continue
        reading = clock.measure(before, venue_ms, after)
        clock.store(conn, acct.account, reading)
        metrics.TIME_DRIFT.labels(acct.account).set(float(reading.offset_ms) / 1000)
        lvl = clock.level(reading.offset_ms)
        log.info(
            "venue clock measured",
            extra={
                "account": acct.account,
                "offset_ms": str(reading.offset_ms),
                "rtt_ms": str(reading.rtt_ms),
                "level": lvl,
            },
        )
        if lvl != "ok":
            blocked = lvl == "critical"
            alerts.append(
                Alert(
                    severity="critical" if blocked else "warning",
                    code="CLOCK_DRIFT",
                    component="clock-guard",
                    message=f"venue clock offset of {acct.account} is {reading.offset_ms} ms"
                    + ("; new entries are refused" if blocked else ""),
                    action="check NTP on the nodes and the venue's status" if blocked else "watch the offset",
                    details={
                        "account": acct.account,
                        "offset_ms": str(reading.offset_ms),
                        "rtt_ms": str(reading.rtt_ms),
                        "entries_blocked": blocked,
                    },
                )
            )
    return alerts


def check_at_start(pool: ConnectionPool, function: str, timeout_ms: int) -> list[OutboxRow]:
    """The executor's clock check at start-up: measure and store every LIVE account's offset now.

    Why: the clock guard measures once a minute; an executor that starts on a node whose
    clock jumped would otherwise trade on a reading up to a minute old (or none). The alerts
    go to ``ops.alert`` through the outbox rows returned (the caller publishes them). A
    failure here is logged and never stops the start: the guard's next tick measures again.
    """
    try:
        with pool.connection() as conn, conn.transaction():
            alerts = check_all(conn, timeout_ms=timeout_ms)
            topic = _alert_topic(function)
            rows = []
            for alert in alerts:
                env = new_event(
                    alert,
                    source=f"/kairos/{function}",
                    partition_key=function,
                    event_id=stable_id("kairos.clock.start", function, alert.code, str(time.time_ns())),
                )
                rows += append_outbox(conn, function, [(topic, env)])
        log.info("clock checked at start", extra={"alerts": [a.code for a in alerts]})
        return rows
    except Exception as exc:  # a start must not depend on the venue answering
        log.warning("clock check at start failed; the clock guard measures again within a minute",
                    extra={"reason": f"{type(exc).__name__}: {exc}"})
        return []


def _alert_topic(function: str) -> str:
    catalog = load_catalog()
    return catalog.output_topic(catalog.function(function), "kairos.ops.alert")
