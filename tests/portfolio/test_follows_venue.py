"""Protection follows the venue: a position closed, liquidated, resized or reopened outside
Kairos is closed, adjusted or adopted by the reconciler's tick, through ccxt against the
simulator (never by editing tables); and a clean executor restart with protected positions
open stops no strategy."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
from kairos_testkit.execution import SYMBOL, VENUE_SYMBOL
from kairos_testkit.functions import in_process
from kairos_testkit.protection_system import system, venue_algos

SMALL = ("acct-small", "kp-small-key-3Qx", "kp-small-secret-Zt81")
WIDE_STOP = {"default": {"take_profits": [{"distance_pct": "1", "fraction": "1"}], "stop_loss": {"distance_pct": "10"}}}


def _alerts(s, *codes: str) -> list[dict]:
    return [a for a in s.outbox("kairos.ops.alert") if a["code"] in codes]


def _row(url: str, position_id: str) -> tuple:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT status, close_reason, unprotected_since FROM positions WHERE position_id = %s",
                           (position_id,)).fetchone()
    assert row is not None
    return tuple(row)


def _rejected(s) -> int:
    return sum(1 for o in s.orders() if o["state"] == "REJECTED")


def test_hand_close_closes_the_row_and_a_reopen_in_the_slot_is_protected_within_the_tick(
    database_url, kafka_bootstrap, sim
):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter()
        s.settle()
        (pos,) = s.positions()
        assert len(venue_algos(sim)) == 2  # TP and SL rest at the venue

        sim.ccxt().create_order(SYMBOL, "market", "sell", 0.01, params={"reduceOnly": True})  # by hand
        s.tick("reconciler")
        s.settle()
        assert _row(database_url, pos["position_id"]) == ("CLOSED", "external_close", None)
        (closed,) = _alerts(s, "POSITION_CLOSED_AT_VENUE")
        assert closed["severity"] == "warning" and closed["details"]["position_id"] == pos["position_id"]
        assert s.orders(active=True) == [] and venue_algos(sim) == []
        rejected = _rejected(s)
        for _ in range(3):  # further ticks and syncs: nothing placed, refused or paged for the gone position
            s.tick("reconciler")
            s.sync_open()
            s.tick("slo-monitor")
            s.settle()
        assert _rejected(s) == rejected and _alerts(s, "POSITION_UNPROTECTED") == []

        sim.ccxt().create_order(SYMBOL, "market", "buy", 0.02)  # a new position by hand, same slot
        s.tick("reconciler")
        s.pump()  # what the tick emitted, and what that causes: no second tick needed
        opened = [p for p in s.positions() if p["status"] != "CLOSED"]
        assert len(opened) == 1 and opened[0]["managed"] is False and Decimal(opened[0]["quantity"]) == Decimal("0.02")
        assert len(s.orders("TP", active=True)) == 1 and len(s.orders("SL", active=True)) == 1
        assert len(venue_algos(sim)) == 2


def test_a_flip_by_hand_closes_the_old_side_and_protects_the_new_one_and_a_resize_is_followed(
    database_url, kafka_bootstrap, sim
):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter(quantity="0.010")
        s.settle()
        (pos,) = s.positions()
        ex = sim.ccxt()
        ex.create_order(SYMBOL, "market", "buy", 0.005)  # added by hand: same side, bigger
        s.tick("reconciler")
        s.settle()
        row = next(p for p in s.positions() if p["position_id"] == pos["position_id"])
        assert Decimal(row["quantity"]) == Decimal("0.015") and row["status"] != "CLOSED"
        assert [a["details"]["reason"] for a in _alerts(s, "POSITION_ADJUSTED")] == ["adjusted"]
        (sl,) = s.orders("SL", active=True)
        assert Decimal(sl["quantity"]) == Decimal("0.015")  # the stop covers what the venue holds

        ex.create_order(SYMBOL, "market", "sell", 0.035)  # a flip by hand: through flat to a short
        s.tick("reconciler")
        s.settle()
        assert _row(database_url, pos["position_id"])[:2] == ("CLOSED", "external_close")
        (short,) = [p for p in s.positions() if p["status"] != "CLOSED"]
        assert short["side"] == "SHORT" and Decimal(short["quantity"]) == Decimal("0.02")
        assert len(s.orders("SL", active=True)) == 1 and len(s.orders("TP", active=True)) == 1


def test_a_liquidation_closes_the_row_with_its_reason(database_url, kafka_bootstrap, sim):
    sim.control.add_account(SMALL[1], SMALL[2], "1000")
    with system(database_url, kafka_bootstrap, sim, protection=WIDE_STOP, seeds=[SMALL]) as s:
        sim.ccxt(api_key=SMALL[1], secret=SMALL[2]).set_leverage(20, SYMBOL)
        s.enter(quantity="0.3", account=SMALL[0])  # 18 k notional on a 1 k wallet
        s.settle()
        (pos,) = s.positions()
        assert pos["outcome"] is not None and len(s.orders(active=True)) == 2
        liq = sim.ccxt(api_key=SMALL[1], secret=SMALL[2]).fetch_positions([SYMBOL])[0]["liquidationPrice"]
        assert liq > 54000  # the 10 % stop (54,000) lies beyond it: the venue liquidates first
        sim.control.set_price(VENUE_SYMBOL, str(Decimal(str(liq)) - Decimal("5")))
        s.tick("reconciler")
        s.settle()
        assert _row(database_url, pos["position_id"])[:2] == ("CLOSED", "liquidation")
        (closed,) = _alerts(s, "POSITION_CLOSED_AT_VENUE")
        assert closed["severity"] == "critical" and closed["details"]["reason"] == "liquidation"
        assert s.orders(active=True) == []


def test_a_clean_executor_restart_with_protected_positions_stops_no_strategy(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter()
        s.settle()
        assert len(s.orders(active=True)) == 2  # protected: a TP and an SL rest, nothing in flight
        env = dict(s.fns["executor"].env)
    with in_process("executor", env) as fn:  # the next start, after a clean stop
        assert fn.ready() == (True, "HEALTHY")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM strategy_control WHERE stopped").fetchone() == (0,)
        rows = conn.execute("SELECT value FROM outbox WHERE event_type = 'kairos.ops.alert' ORDER BY id").fetchall()
    done = [a for a in (json.loads(bytes(r[0])) for r in rows) if a["code"] == "RECOVERY_COMPLETE"]
    assert done[-1]["severity"] == "info" and done[-1]["details"]["in_flight"] == 0
    assert not any(a["details"]["strategies_stopped"] for a in done)
