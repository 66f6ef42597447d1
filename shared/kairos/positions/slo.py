"""Protection SLOs computed from timestamps, and the alerts their breaches raise.

The targets: TP/SL in place within 10 s of the open (alert beyond 30 s), placement
success above 99 % (alert below 95 %), sync cycle under 1 s (alert beyond 5 s). The
``slo-monitor`` cron reads the timestamps from Postgres, calls ``evaluate`` and publishes the
alerts on ``ops.alert`` (and the optional webhook, ``telegram_message``). Pure: ``now`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from kairos.contracts.ops import Alert

COMPONENT = "slo-monitor"


@dataclass(frozen=True, slots=True)
class ProtectionRecord:
    """One position's protection timeline."""

    position_id: str
    opened_at: datetime
    protected_at: datetime | None = None  # first time TP and SL were both resting at the venue
    unprotected_since: datetime | None = None  # set while open and not (or no longer) protected
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    delay_target_s: float = 10.0
    unprotected_critical_s: float = 30.0
    success_target: float = 0.99
    success_critical: float = 0.95
    cycle_warning_s: float = 5.0


@dataclass(frozen=True, slots=True)
class SloReport:
    delay_p50_s: float | None
    delay_p99_s: float | None
    delay_max_s: float | None
    protected_positions: int
    placement_success_rate: float | None
    unprotected: tuple[tuple[str, float], ...]  # (position id, seconds unprotected), longest first
    sync_cycle_s: float | None
    corrections: int
    alerts: tuple[Alert, ...]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def evaluate(
    records: Iterable[ProtectionRecord],
    now: datetime,
    *,
    placements_attempted: int = 0,
    placements_succeeded: int = 0,
    sync_cycle_s: float | None = None,
    corrections: int = 0,
    thresholds: Thresholds = Thresholds(),
) -> SloReport:
    """The report and its alerts; each alert names what to do."""
    records = list(records)
    delays = [(r.protected_at - r.opened_at).total_seconds() for r in records if r.protected_at is not None]
    unprotected = sorted(
        ((r.position_id, (now - r.unprotected_since).total_seconds())
         for r in records if r.closed_at is None and r.unprotected_since is not None),
        key=lambda item: (-item[1], item[0]),
    )
    rate = placements_succeeded / placements_attempted if placements_attempted else None
    p99 = percentile(delays, 0.99)
    alerts: list[Alert] = []
    for position_id, seconds in unprotected:
        if seconds > thresholds.unprotected_critical_s:
            alerts.append(Alert(
                severity="critical", code="POSITION_UNPROTECTED", component=COMPONENT,
                message=f"position {position_id} without TP/SL for {seconds:.1f} s",
                action="check position-sync and executor; the fallback closes the position if placement keeps failing",
                details={"position_id": position_id, "seconds": seconds},
            ))
    if p99 is not None and p99 > thresholds.delay_target_s:
        alerts.append(Alert(
            severity="warning", code="PROTECTION_DELAY_SLO", component=COMPONENT,
            message=f"open to TP+SL resting p99 {p99:.1f} s > {thresholds.delay_target_s:.0f} s",
            action="look at executor latency and sync backlog", details={"p99_s": p99},
        ))
    if rate is not None and rate < thresholds.success_target:
        critical = rate < thresholds.success_critical
        alerts.append(Alert(
            severity="critical" if critical else "warning", code="PLACEMENT_SUCCESS_SLO", component=COMPONENT,
            message=f"protective placement success {rate:.2%} < {thresholds.success_target:.0%}",
            action="read the rejection reasons in exec.order_event", details={"rate": rate},
        ))
    if sync_cycle_s is not None and sync_cycle_s > thresholds.cycle_warning_s:
        alerts.append(Alert(
            severity="warning", code="SYNC_CYCLE_SLOW", component=COMPONENT,
            message=f"sync cycle {sync_cycle_s:.1f} s > {thresholds.cycle_warning_s:.0f} s",
            action="scale position-sync or lengthen the interval", details={"cycle_s": sync_cycle_s},
        ))
    return SloReport(
        delay_p50_s=percentile(delays, 0.5),
        delay_p99_s=p99,
        delay_max_s=max(delays) if delays else None,
        protected_positions=len(delays),
        placement_success_rate=rate,
        unprotected=tuple(unprotected),
        sync_cycle_s=sync_cycle_s,
        corrections=corrections,
        alerts=tuple(alerts),
    )

