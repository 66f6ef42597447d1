"""Clock guard: the venue's server-time offset, measured round-trip corrected, and the rule
that uses it.

offset = venue time - (local send time + local receive time) / 2. Above 1 s an operator
is warned; above 5 s new entries are refused with ``CLOCK_DRIFT`` until it recovers, while
exits, protective orders, reduce-only orders and cancels still go through: refusing to
close risk because of a clock is worse than the clock.

A measurement older than ``STALE_AFTER_S`` does not block (the guard cron is down; its own
absence is alerted by the SLO monitor): blocking every entry on a missing cron would turn
a monitoring gap into an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import psycopg

WARN_MS = Decimal("1000")
BLOCK_MS = Decimal("5000")
STALE_AFTER_S = 180


@dataclass(frozen=True)
class ClockReading:
    offset_ms: Decimal
    rtt_ms: Decimal
    measured_at: datetime


def measure(local_before_ms: int, venue_ms: int, local_after_ms: int) -> ClockReading:
    rtt = Decimal(local_after_ms - local_before_ms)
    offset = Decimal(venue_ms) - Decimal(local_before_ms + local_after_ms) / 2
    return ClockReading(offset.quantize(Decimal("0.1")), rtt, datetime.fromtimestamp(local_after_ms / 1000, UTC))


def level(offset_ms: Decimal, *, block_ms: Decimal = BLOCK_MS) -> str:
    """ "ok", "warning" (> 1 s) or "critical" (> block threshold, entries blocked)."""
    if abs(offset_ms) > block_ms:
        return "critical"
    if abs(offset_ms) > WARN_MS:
        return "warning"
    return "ok"


def is_entry(intent: str, reduce_only: bool) -> bool:
    """Only orders that open or grow risk are blocked by drift."""
    return intent == "entry" and not reduce_only


def blocking_reason(reading: ClockReading | None, *, now: datetime, block_ms: Decimal = BLOCK_MS) -> str | None:
    """The CLOCK_DRIFT reason when entries must be refused now, else None."""
    if reading is None or (now - reading.measured_at).total_seconds() > STALE_AFTER_S:
        return None
    if abs(reading.offset_ms) > block_ms:
        return f"CLOCK_DRIFT: venue clock offset {reading.offset_ms} ms exceeds {block_ms} ms; entries refused"
    return None


def store(conn: psycopg.Connection, key: str, reading: ClockReading) -> None:
    conn.execute(
        "INSERT INTO venue_clock (venue_key, offset_ms, rtt_ms, measured_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (venue_key) DO UPDATE SET offset_ms = EXCLUDED.offset_ms, rtt_ms = EXCLUDED.rtt_ms,"
        " measured_at = EXCLUDED.measured_at",
        (key, reading.offset_ms, reading.rtt_ms, reading.measured_at),
    )


def latest(conn: psycopg.Connection, key: str) -> ClockReading | None:
    r = conn.execute("SELECT offset_ms, rtt_ms, measured_at FROM venue_clock WHERE venue_key = %s", (key,)).fetchone()
    return ClockReading(Decimal(r[0]), Decimal(r[1]), r[2]) if r else None
