"""SHADOW: the same port as LIVE, fills simulated locally from the latest market price with
the simulator's own slippage and fee model, and nothing ever sent to the venue."""

from __future__ import annotations

from decimal import Decimal

import psycopg
from kairos_testkit.execution import VENUE_SYMBOL, command, db_order, drive, runtime, setup_account, venue_orders_by_cid


def _fills(database_url: str, command_id: str) -> list[tuple[Decimal, Decimal, Decimal]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT f.quantity, f.price, f.fee FROM fills f JOIN orders o ON o.id = f.order_id"
            " WHERE o.command_id = %s ORDER BY f.id",
            (command_id,),
        ).fetchall()


def test_shadow_market_order_fills_like_the_simulator_without_touching_it(database_url, sim):
    setup_account(database_url, sim)  # LIVE twin, for comparison
    setup_account(database_url, sim, account="acct-shadow", mode="shadow")
    with runtime(database_url) as rt:
        live = command(quantity="7.000")  # deeper than one level: slippage over two levels
        shadow = command(quantity="7.000", account="acct-shadow")
        drive(rt, shadow)
        drive(rt, live)
    s, lv = db_order(database_url, shadow.data.command_id), db_order(database_url, live.data.command_id)
    assert s["state"] == lv["state"] == "FILLED"
    assert _fills(database_url, shadow.data.command_id) == _fills(database_url, live.data.command_id)
    assert s["cid"] not in venue_orders_by_cid(sim)  # nothing was sent
    with psycopg.connect(database_url) as conn:
        modes: dict[str, str] = dict(conn.execute("SELECT command_id, mode FROM orders").fetchall())
    assert modes[shadow.data.command_id] == "shadow"


def test_shadow_resting_limit_and_stop_are_filled_by_reconciliation_when_the_price_reaches_them(database_url, sim):
    setup_account(database_url, sim, account="acct-shadow", mode="shadow")
    with runtime(database_url) as rt:
        drive(rt, command(quantity="0.010", account="acct-shadow"))
        limit = command(order_type="limit", limit_price=Decimal("59500"), account="acct-shadow")
        stop = command(
            order_type="stop_market",
            side="sell",
            quantity="0.010",
            stop_price=Decimal("59000"),
            reduce_only=True,
            intent="protective",
            account="acct-shadow",
        )
        drive(rt, limit)
        drive(rt, stop)
        assert db_order(database_url, limit.data.command_id)["state"] == "OPEN"
        assert db_order(database_url, stop.data.command_id)["state"] == "OPEN"
        sim.control.set_price(VENUE_SYMBOL, "59400")
        rt.reconciler.run()
        assert db_order(database_url, limit.data.command_id)["state"] == "FILLED"
        assert _fills(database_url, limit.data.command_id)[0][1] == Decimal("59500")  # maker at its limit
        assert db_order(database_url, stop.data.command_id)["state"] == "OPEN"
        sim.control.set_price(VENUE_SYMBOL, "58900")
        rt.reconciler.run()
        assert db_order(database_url, stop.data.command_id)["state"] == "FILLED"
    assert not [cid for cid in venue_orders_by_cid(sim) if cid.startswith("kx1-")]
