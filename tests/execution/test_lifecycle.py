"""Order lifecycles against the simulator through real ccxt and a real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from kairos.execution.client_ids import client_order_id
from kairos_testkit.execution import VENUE_SYMBOL, command, db_order, drive, venue_orders_by_cid


def _events(database_url: str, command_id: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(database_url) as conn:
        return [
            (a, b, c)
            for a, b, c in conn.execute(
                "SELECT e.from_state, e.trigger, e.to_state FROM order_events e JOIN orders o ON o.id = e.order_id"
                " WHERE o.command_id = %s ORDER BY e.seq",
                (command_id,),
            )
        ]


def _outbox_types(database_url: str, command_id: str) -> list[str]:
    cid = client_order_id(command_id)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT event_type FROM outbox WHERE headers::text LIKE %s ORDER BY id", (f"%{cid}%",)
        ).fetchall()
    return [r[0] for r in rows]


def test_market_order_fills_and_emits_events_fills_and_one_result(rt, sim, database_url):
    c = command(quantity="0.010")
    drive(rt, c)
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "FILLED" and o["filled"] == Decimal("0.010") and o["venue_id"]
    assert _events(database_url, c.data.command_id) == [("NEW", "SUBMIT", "SUBMITTED"), ("SUBMITTED", "FILL", "FILLED")]
    types = _outbox_types(database_url, c.data.command_id)
    assert types.count("kairos.exec.order_event") == 2
    assert types.count("kairos.exec.fill") == 1
    assert types.count("kairos.exec.trade_result") == 1
    venue = venue_orders_by_cid(sim)[o["cid"]]
    assert len(venue) == 1 and venue[0]["status"] == "FILLED"


def test_limit_order_rests_then_is_cancelled(rt, sim, database_url):
    from kairos.contracts.commands import CancelOrder

    c = command(order_type="limit", limit_price=Decimal("59000"))
    drive(rt, c)
    assert db_order(database_url, c.data.command_id)["state"] == "OPEN"
    cancel = CancelOrder(
        command_id="cancel-0001",
        target_command_id=c.data.command_id,
        account=c.data.account,
        venue=c.data.venue,
        symbol=c.data.symbol,
        strategy_id="s-test",
    )
    rt.service.cancel(cancel)
    rt.service.cancel(cancel)  # a redelivered cancel changes nothing
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "CANCELED"
    assert [e[2] for e in _events(database_url, c.data.command_id)] == ["SUBMITTED", "OPEN", "CANCELING", "CANCELED"]
    assert venue_orders_by_cid(sim)[o["cid"]][0]["status"] == "CANCELED"


def test_limit_order_partially_fills_then_fills_as_the_venue_reports(rt, sim, database_url):
    # the synthetic book holds 5 BTC per level: a marketable 12 BTC limit two ticks deep takes 10 now
    c = command(order_type="limit", limit_price=Decimal("60000.2"), quantity="12.000")
    drive(rt, c)
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "PARTIALLY_FILLED" and Decimal(0) < o["filled"] < Decimal("12")
    sim.control.step(ticks=3)
    rt.reconciler.run()
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "FILLED" and o["filled"] == Decimal("12.000")
    with psycopg.connect(database_url) as conn:
        venue_fills = {f["trade_id"] for f in sim.control.fills() if f["order_id"] == int(o["venue_id"])}
        db_fills = {r[0] for r in conn.execute("SELECT venue_trade_id FROM fills")}
    assert {str(t) for t in venue_fills} == db_fills


def test_stop_and_take_profit_trigger_and_fill(rt, sim, database_url):
    drive(rt, command(quantity="0.020"))  # a long position to protect
    stop = command(
        order_type="stop_market",
        side="sell",
        quantity="0.010",
        stop_price=Decimal("59000"),
        reduce_only=True,
        intent="protective",
    )
    tp = command(
        order_type="take_profit_market",
        side="sell",
        quantity="0.010",
        stop_price=Decimal("61000"),
        reduce_only=True,
        intent="protective",
    )
    drive(rt, stop)
    drive(rt, tp)
    assert db_order(database_url, stop.data.command_id)["state"] == "OPEN"
    sim.control.set_price(VENUE_SYMBOL, "61000.5")
    sim.control.step(ticks=2)
    rt.reconciler.run()
    assert db_order(database_url, tp.data.command_id)["state"] == "FILLED"
    assert db_order(database_url, stop.data.command_id)["state"] == "OPEN"
    sim.control.set_price(VENUE_SYMBOL, "58990")
    sim.control.step(ticks=2)
    rt.reconciler.run()
    assert db_order(database_url, stop.data.command_id)["state"] == "FILLED"


def test_trailing_stop_activates_tracks_and_fires(rt, sim, database_url):
    drive(rt, command(quantity="0.010"))
    trail = command(
        order_type="trailing_stop_market",
        side="sell",
        quantity="0.010",
        activation_price=Decimal("60500"),
        callback_rate=Decimal("1"),
        reduce_only=True,
        intent="protective",
    )
    drive(rt, trail)
    assert db_order(database_url, trail.data.command_id)["state"] == "OPEN"
    sim.control.script(VENUE_SYMBOL, ["60600", "61000", "60800", "60500", "60350"])  # 1 % below 61000 = 60390
    sim.control.step(ticks=6)
    rt.reconciler.run()
    o = db_order(database_url, trail.data.command_id)
    assert o["state"] == "FILLED" and o["avg"] is not None and Decimal(o["avg"]) < Decimal("60400")


def test_expiry_cancels_a_resting_order_and_ends_expired(rt, sim, database_url):
    c = command(order_type="limit", limit_price=Decimal("55000"), expires_at=datetime.now(UTC) + timedelta(seconds=1))
    drive(rt, c)
    assert db_order(database_url, c.data.command_id)["state"] == "OPEN"
    import time

    time.sleep(1.2)
    rt.reconciler.run()
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "EXPIRED"
    assert venue_orders_by_cid(sim)[o["cid"]][0]["status"] == "CANCELED"


def test_expired_command_is_rejected_before_it_reaches_the_venue(rt, sim, database_url):
    c = command(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    drive(rt, c)
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "REJECTED" and o["reason"].startswith("EXPIRED_BEFORE_SUBMIT")
    assert o["cid"] not in venue_orders_by_cid(sim)


def test_venue_rejection_is_final_and_names_the_venue_reason(rt, sim, database_url):
    c = command(quantity="0.0001")  # below the step size: -1111 / -4003 family
    drive(rt, c)
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "REJECTED" and "create" in o["reason"]


def test_amend_cancels_and_replaces_under_the_amend_command_id(rt, sim, database_url):
    from kairos.contracts.commands import AmendOrder

    c = command(order_type="limit", limit_price=Decimal("59000"))
    drive(rt, c)
    amend = AmendOrder(
        command_id="amend-00001",
        target_command_id=c.data.command_id,
        account=c.data.account,
        venue=c.data.venue,
        symbol=c.data.symbol,
        strategy_id="s-test",
        limit_price=Decimal("59500"),
    )
    from kairos_testkit.execution import command as _c

    rt.service.amend(amend, _c())
    assert db_order(database_url, c.data.command_id)["state"] == "CANCELED"
    new = db_order(database_url, "amend-00001")
    assert new["state"] == "OPEN"
    venue = venue_orders_by_cid(sim)[new["cid"]]
    assert len(venue) == 1 and Decimal(venue[0]["price"]) == Decimal("59500")


def test_duplicate_client_id_rejection_is_resolved_by_fetching_the_existing_order(rt, sim, database_url):
    c = command(order_type="limit", limit_price=Decimal("58000"))
    cid = client_order_id(c.data.command_id)
    existing = sim.ccxt().create_order(c.data.symbol, "limit", "buy", 0.01, 58000, params={"newClientOrderId": cid})
    drive(rt, c)  # the venue answers -4116: the executor fetches the order instead of failing
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "OPEN" and o["venue_id"] == str(existing["id"])
    assert len(venue_orders_by_cid(sim)[cid]) == 1
    audit = [r for r in sim.control.audit() if r["path"] == "/fapi/v1/order" and r["method"] == "POST"]
    assert [r["code"] for r in audit] == [None, -4116]
