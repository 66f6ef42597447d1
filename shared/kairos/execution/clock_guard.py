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
from kairos.contracts.ops import Alert
from kairos.execution import accounts, clock
from kairos.venues import registry
from kairos.venues.port import PublicVenue

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
