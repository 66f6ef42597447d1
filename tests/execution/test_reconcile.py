"""Reconciliation: fills that happened while no executor ran, lost and orphan orders, and
a venue that cannot answer (which changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from kairos.execution.client_ids import PREFIX, client_order_id
from kairos_testkit.events import ping_event
from kairos_testkit.execution import (
    SYMBOL,
    VENUE_SYMBOL,
    command,
    db_order,
    drive,
    exec_env,
    runtime,
    setup_account,
    venue_orders_by_cid,
)
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes


def _audit(database_url: str, action: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT order_id, details FROM reconciliation_audit WHERE action = %s", (action,)
        ).fetchall()


def test_fills_while_the_executor_is_down_are_recovered_and_published_exactly_once(database_url, sim, kafka_bootstrap):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    commands = [
        command(order_type="limit", limit_price=Decimal(p), quantity="0.010")
        for p in ("59900", "59800", "59700", "59600")
    ]
    with runtime(database_url) as rt:  # the executor places them, then goes away
        for c in commands:
            drive(rt, c)
    assert {db_order(database_url, c.data.command_id)["state"] for c in commands} == {"OPEN"}
    sim.control.script(VENUE_SYMBOL, ["59850", "59650", "59550"])  # every limit is reached while we are down
    sim.control.step(ticks=4)
    venue_trades = [f for f in sim.control.fills() if f["symbol"] == VENUE_SYMBOL]
    assert len(venue_trades) >= len(commands)
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    with in_process("reconciler", env) as fn:
        t0 = datetime.now(UTC).replace(second=0, microsecond=0)
        for minute in range(3):  # three cron ticks: the first corrects, the others find agreement
            assert fn.process(ping_event("/kairos/reconciler", t0 + timedelta(minutes=minute))).status == 204
    for c in commands:
        o = db_order(database_url, c.data.command_id)
        assert o["state"] == "FILLED" and o["filled"] == Decimal("0.010")
    fills = record_envelopes(read_topic(kafka_bootstrap, "exec.fill", expect=len(venue_trades), settle=1.5))
    trade_ids = [f.data.venue_trade_id for f in fills]
    assert sorted(trade_ids) == sorted(str(t["trade_id"]) for t in venue_trades)  # each exactly once
    assert len({f.meta.id for f in fills}) == len(fills)
    assert len(_audit(database_url, "transition")) == len(commands)
    results = record_envelopes(read_topic(kafka_bootstrap, "exec.trade_result", expect=len(commands), settle=0.5))
    assert sorted(r.data.command_id for r in results) == sorted(c.data.command_id for c in commands)


def test_an_order_the_venue_never_had_is_lost_only_after_misses_and_grace_and_never_resent(database_url, sim):
    setup_account(database_url, sim)
    sim.control.set_faults([{"kind": "http_error", "endpoint": "POST /fapi/v1/order", "status": 503}])
    c = command()
    with runtime(database_url, KAIROS_RECONCILE_LOST_GRACE_S="0", KAIROS_RECONCILE_LOST_MISSES="3") as rt:
        try:
            rt.service.execute(c.data, c)
        except Exception as exc:  # the outcome is unknown: a transient failure, never a rejection
            assert "outcome" in str(exc)
        assert db_order(database_url, c.data.command_id)["state"] == "UNKNOWN"
        sim.control.clear_faults()
        for expected in ("UNKNOWN", "UNKNOWN", "REJECTED"):
            rt.reconciler.run()
            assert db_order(database_url, c.data.command_id)["state"] == expected
    o = db_order(database_url, c.data.command_id)
    assert o["reason"].startswith("LOST")
    assert o["cid"] not in venue_orders_by_cid(sim)  # the reconciler never sends
    assert len(_audit(database_url, "miss")) == 3 and len(_audit(database_url, "lost")) == 1


def test_a_failed_venue_query_is_not_an_answer(database_url, sim):
    setup_account(database_url, sim)
    c = command(order_type="limit", limit_price=Decimal("50000"))
    with runtime(database_url, KAIROS_RECONCILE_LOST_GRACE_S="0", KAIROS_RECONCILE_LOST_MISSES="1") as rt:
        drive(rt, c)
        sim.control.set_faults([], maintenance=True)
        for _ in range(3):
            report = rt.reconciler.run()
            assert report.query_failures == 1 and not report.complete
        sim.control.clear_faults()
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "OPEN"
    assert len(_audit(database_url, "query_failed")) == 3 and not _audit(database_url, "miss")


def test_venue_orders_with_our_prefix_unknown_to_the_database_are_reported_as_orphans(database_url, sim):
    setup_account(database_url, sim)
    ex = sim.ccxt()
    orphan = PREFIX + "0" * 32
    ex.create_order(SYMBOL, "limit", "buy", 0.01, 50000, params={"newClientOrderId": orphan})
    ex.create_order(SYMBOL, "limit", "buy", 0.01, 50000, params={"newClientOrderId": "manual-order-1"})
    with runtime(database_url, function="reconciler") as rt:
        known = command(order_type="limit", limit_price=Decimal("50000"))
        drive(rt, known)
        report = rt.reconciler.run()
    assert report.orphans == [orphan]  # ours by prefix, not in the DB; a manual order is not ours
    assert report.alerts[0].code == "ORPHAN_ORDER"
    assert [d["client_order_id"] for _o, d in _audit(database_url, "orphan")] == [orphan]
    assert client_order_id(known.data.command_id) not in report.orphans
