"""SLO computation from protection timestamps, breach alerts, webhook format."""

from __future__ import annotations

from kairos.positions.slo import ProtectionRecord, Thresholds, evaluate, percentile
from kairos_testkit.position_builders import at


def rec(pid: str, opened: float, protected: float | None = None, unprotected: float | None = None,
        closed: float | None = None) -> ProtectionRecord:
    return ProtectionRecord(
        position_id=pid,
        opened_at=at(opened),
        protected_at=at(protected) if protected is not None else None,
        unprotected_since=at(unprotected) if unprotected is not None else None,
        closed_at=at(closed) if closed is not None else None,
    )


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile(values, 1) == 100
    assert percentile([], 0.5) is None and percentile([7.0], 0.99) == 7


def test_healthy_system_reports_delays_and_raises_no_alert() -> None:
    records = [rec(f"p{i}", 0, protected=i / 10) for i in range(1, 21)]
    report = evaluate(records, at(100), placements_attempted=200, placements_succeeded=200, sync_cycle_s=0.4)
    assert report.delay_p50_s == 1.0 and report.delay_p99_s == 2.0 and report.delay_max_s == 2.0
    assert report.protected_positions == 20 and report.placement_success_rate == 1.0
    assert report.unprotected == () and report.alerts == ()


def test_position_unprotected_beyond_thirty_seconds_is_critical() -> None:
    records = [rec("ok", 0, protected=1), rec("young", 70, unprotected=70), rec("old", 0, unprotected=60),
               rec("closed", 0, unprotected=0, closed=5)]
    report = evaluate(records, at(100))
    assert report.unprotected == (("old", 40.0), ("young", 30.0))
    assert [(a.severity, a.code, a.details["position_id"]) for a in report.alerts] == [  # type: ignore[index]
        ("critical", "POSITION_UNPROTECTED", "old")
    ]


def test_delay_success_and_cycle_breaches_raise_their_alerts() -> None:
    records = [rec("slow", 0, protected=12)]
    report = evaluate(records, at(100), placements_attempted=100, placements_succeeded=97, sync_cycle_s=6)
    codes = {(a.code, a.severity) for a in report.alerts}
    assert codes == {("PROTECTION_DELAY_SLO", "warning"), ("PLACEMENT_SUCCESS_SLO", "warning"),
                     ("SYNC_CYCLE_SLOW", "warning")}
    worse = evaluate([], at(0), placements_attempted=100, placements_succeeded=90)
    assert [(a.code, a.severity) for a in worse.alerts] == [("PLACEMENT_SUCCESS_SLO", "critical")]


def test_thresholds_are_configurable_and_no_placements_means_no_rate() -> None:
    report = evaluate([rec("p", 0, protected=3)], at(10), thresholds=Thresholds(delay_target_s=2))
    assert report.placement_success_rate is None and [a.code for a in report.alerts] == ["PROTECTION_DELAY_SLO"]

