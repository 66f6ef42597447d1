"""Clock guard: a venue clock more than 5 s away blocks new entries with CLOCK_DRIFT, while
exits, protective orders and cancels still go through; > 1 s warns on ops.alert."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from kairos.contracts.commands import CancelOrder
from kairos.execution import clock
from kairos.execution.clock_guard import check_all
from kairos_testkit.events import ping_event
from kairos_testkit.execution import command, db_order, drive, exec_env, runtime, setup_account, venue_orders_by_cid
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes


def _guard(database_url: str) -> list:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return check_all(conn, timeout_ms=2000)


def test_offset_is_measured_round_trip_corrected_and_classified():
    r = clock.measure(1_000, 7_050, 1_100)  # venue answered mid-flight at 7 050, we sent at 1 000, got it at 1 100
    assert r.offset_ms == Decimal("6000.0") and r.rtt_ms == Decimal("100")
    assert [clock.level(Decimal(x)) for x in ("0", "-1500", "5001")] == ["ok", "warning", "critical"]
    assert clock.is_entry("entry", False) and not clock.is_entry("entry", True) and not clock.is_entry("exit", False)
    now = datetime.now(UTC)
    assert clock.blocking_reason(clock.ClockReading(Decimal("-5200"), Decimal(1), now), now=now)
    assert clock.blocking_reason(clock.ClockReading(Decimal("4999"), Decimal(1), now), now=now) is None


def test_skew_beyond_five_seconds_blocks_entries_and_lets_exits_protection_and_cancels_through(database_url, sim):
    setup_account(database_url, sim)
    with runtime(database_url) as rt:
        drive(rt, command(quantity="0.020"))  # a position, placed while the clocks agree
        resting = command(order_type="limit", limit_price=Decimal("50000"))
        drive(rt, resting)
        assert _guard(database_url) == []

        sim.control.set_faults([], clock_offset_ms=6500)
        alerts = _guard(database_url)
        assert [(a.code, a.severity) for a in alerts] == [("CLOCK_DRIFT", "critical")]

        entry = command(quantity="0.010")
        drive(rt, entry)
        o = db_order(database_url, entry.data.command_id)
        assert o["state"] == "REJECTED" and o["reason"].startswith("CLOCK_DRIFT")
        assert o["cid"] not in venue_orders_by_cid(sim)

        exit_ = command(side="sell", quantity="0.010", intent="exit")
        stop = command(
            order_type="stop_market",
            side="sell",
            quantity="0.010",
            stop_price=Decimal("55000"),
            reduce_only=True,
            intent="protective",
        )
        drive(rt, exit_)
        drive(rt, stop)
        assert db_order(database_url, exit_.data.command_id)["state"] == "FILLED"
        assert db_order(database_url, stop.data.command_id)["state"] == "OPEN"
        rt.service.cancel(
            CancelOrder(
                command_id="cancel-during-drift",
                target_command_id=resting.data.command_id,
                account=resting.data.account,
                venue=resting.data.venue,
                symbol=resting.data.symbol,
                strategy_id="s",
            )
        )
        assert db_order(database_url, resting.data.command_id)["state"] == "CANCELED"

        sim.control.clear_faults()
        assert _guard(database_url) == []
        again = command(quantity="0.010")
        drive(rt, again)
        assert db_order(database_url, again.data.command_id)["state"] == "FILLED"


def test_clock_guard_function_warns_above_one_second_on_ops_alert(database_url, sim, kafka_bootstrap):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    sim.control.set_faults([], clock_offset_ms=-1800)
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    with in_process("clock-guard", env) as fn:
        assert fn.process(ping_event("/kairos/clock-guard", datetime.now(UTC).replace(second=0))).status == 204
    alerts = record_envelopes(read_topic(kafka_bootstrap, "ops.alert", expect=1))
    drift = [a for a in alerts if a.data.code == "CLOCK_DRIFT"]
    assert drift and drift[0].data.severity == "warning"
    assert Decimal(drift[0].data.details["offset_ms"]) < Decimal("-1000")
    with psycopg.connect(database_url) as conn:
        stored = clock.latest(conn, "acct-live")
    assert stored is not None and stored.offset_ms < Decimal("-1000")
