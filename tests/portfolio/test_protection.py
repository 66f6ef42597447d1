"""Issue 7's scenarios against the simulator, through real ccxt, Postgres and the functions."""

from __future__ import annotations

from decimal import Decimal

import psycopg

from tests.portfolio.pkit import TWO_TP, system, venue_algos

EXECUTE = "kairos.cmd.execute_trade"


def _commands(s, kind: str) -> list[dict]:
    return [c for c in s.outbox(EXECUTE) if (c.get("client_tag") or "").split(":")[1:2] == [kind]]


def test_new_position_gets_tp_then_sl_resting_and_a_repeated_sync_sends_nothing(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump()
        pos = s.positions()
        assert len(pos) == 1 and pos[0]["status"] == "OPEN" and Decimal(pos[0]["quantity"]) == Decimal("0.010")
        tp, sl = s.orders("TP"), s.orders("SL")
        assert [o["state"] for o in tp] == ["OPEN"] and [o["state"] for o in sl] == ["OPEN"]
        assert tp[0]["quantity"] == Decimal("0.010") and sl[0]["quantity"] == Decimal("0.010")
        assert sl[0]["stop"] < Decimal("60000") < tp[0]["stop"]
        assert pos[0]["unprotected_since"] is None and pos[0]["protected_at"] is not None
        with psycopg.connect(database_url) as conn:  # seed 002: the SL was created after the TP rested
            tp_open, sl_new = conn.execute(
                "SELECT (SELECT min(e.at) FROM order_events e JOIN orders o ON o.id = e.order_id"
                "        WHERE o.command_id = %s AND e.to_state = 'OPEN'),"
                "       (SELECT created_at FROM orders WHERE command_id = %s)",
                (tp[0]["command_id"], sl[0]["command_id"])).fetchone()
        assert tp_open <= sl_new
        assert len(venue_algos(sim)) == 2
        before = len(s.outbox(EXECUTE))
        s.tick("position-scheduler")
        s.tick("position-scheduler")
        s.pump()
        assert len(s.outbox(EXECUTE)) == before  # protected: the scheduled syncs plan nothing
        assert len(venue_algos(sim)) == 2


def test_partial_tp_fill_resizes_the_sl_and_full_close_leaves_nothing_resting(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim, protection=TWO_TP) as s:
        s.enter("0.010")
        s.pump()
        assert len(s.orders("TP", active=True)) == 2 and len(s.orders("SL", active=True)) == 1
        sim.control.set_price("BTCUSDT", "60700")  # beyond TP 1 (+1 %), below TP 2 (+2 %)
        sim.control.step(ticks=2)
        s.settle()
        pos = s.positions()[0]
        assert pos["status"] == "PARTIALLY_CLOSED" and Decimal(pos["quantity"]) == Decimal("0.005")
        sl = s.orders("SL", active=True)
        assert len(sl) == 1 and sl[0]["quantity"] == Decimal("0.005") and sl[0]["state"] == "OPEN"
        assert [o["level"] for o in s.orders("TP", active=True)] == [1]
        sim.control.set_price("BTCUSDT", "61300")  # beyond TP 2: the position closes
        sim.control.step(ticks=2)
        s.settle()
        pos = s.positions()[0]
        assert pos["status"] == "CLOSED" and Decimal(pos["quantity"]) == 0
        assert s.orders(active=True) == []
        assert venue_algos(sim) == []
        assert Decimal(pos["realised_pnl"]) > 0


def test_duplicate_fill_delivery_changes_nothing(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump()
        before = (s.positions(), len(s.outbox("kairos.event.position_opened")))
        with psycopg.connect(database_url) as conn:
            conn.execute("DELETE FROM inbox WHERE consumer = 'portfolio'")  # as if the inbox had not seen it
            conn.commit()
        s.last = 0
        s.pump()
        assert (s.positions(), len(s.outbox("kairos.event.position_opened"))) == before
