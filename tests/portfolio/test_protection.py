"""Issue 7's scenarios against the simulator, through real ccxt, Postgres and the functions."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from kairos_testkit.protection_system import TWO_TP, system, venue_algos, venue_position

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
            row = conn.execute(
                "SELECT (SELECT min(e.at) FROM order_events e JOIN orders o ON o.id = e.order_id"
                "        WHERE o.command_id = %s AND e.to_state = 'OPEN'),"
                "       (SELECT created_at FROM orders WHERE command_id = %s)",
                (tp[0]["command_id"], sl[0]["command_id"])).fetchone()
        assert row is not None
        tp_open, sl_new = row
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


def test_tp_filling_between_the_tp_step_and_the_sl_step_sends_no_sl(database_url, kafka_bootstrap, sim):
    """Seed 002's -2022 race: the TP rests, the price runs through it before the SL step; the SL
    step's checks see the TP fill the executor recorded and send no SL (nothing to reject)."""
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump(hold=frozenset({("position-sync", "exec.order_event")}))  # the TP's events arrive late
        assert [o["state"] for o in s.orders("TP")] == ["OPEN"] and s.orders("SL") == []
        sim.control.set_price("BTCUSDT", "60700")
        sim.control.step(ticks=2)
        s.tick("reconciler")  # the executor records the TP fill; the fold has not applied it yet
        tp_cid = s.orders("TP")[0]["command_id"]
        s.redeliver("position-sync", "kairos.exec.order_event", tp_cid)  # the late trigger of the SL step
        assert s.orders("SL") == []
        assert "SL blocked: tp_filled" in (s.positions()[0]["outcome"] or "")
        s.settle()
        assert s.positions()[0]["status"] == "CLOSED"
        assert s.orders("SL") == [] and _commands(s, "SL") == []
        codes = [a.get("code") for a in sim.control.audit()]
        assert codes and -2022 not in codes


def test_position_closed_at_the_venue_before_the_sl_step_gets_no_sl_sent(database_url, kafka_bootstrap, sim):
    """Seed 002's venue check: the position is closed by hand between the TP step and the SL
    step, and no fill of it has reached our records; the executor reads the venue position right
    before the reduce-only stop, refuses it unsent (no -2022), and position-sync re-reads."""
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump(hold=frozenset({("position-sync", "exec.order_event")}))
        assert [o["state"] for o in s.orders("TP")] == ["OPEN"] and s.orders("SL") == []
        sim.ccxt().create_order("BTC/USDT:USDT", "market", "sell", 0.01, None, {"reduceOnly": True})  # by hand
        tp_cid = s.orders("TP")[0]["command_id"]
        s.redeliver("position-sync", "kairos.exec.order_event", tp_cid)  # our records: still open
        s.pump()
        sl = s.orders("SL")
        assert [o["state"] for o in sl] == ["REJECTED"]
        with psycopg.connect(database_url) as conn:
            reason = conn.execute("SELECT reason FROM orders WHERE command_id = %s", (sl[0]["command_id"],)).fetchone()
        assert reason is not None and reason[0].startswith("REDUCE_ONLY_PRECHECK")
        audit = sim.control.audit()
        assert -2022 not in [a.get("code") for a in audit]
        assert len([a for a in audit if a["method"] == "POST" and "algoOrder" in a["path"]]) == 1  # the TP only
        s.tick("position-scheduler")
        s.pump()
        assert len(_commands(s, "SL")) == 1  # re-reads, no retry loop
        assert "reread_position" in (s.positions()[0]["outcome"] or "")


def test_a_stop_is_sent_unchecked_when_the_venue_cannot_tell_its_position(database_url, kafka_bootstrap, sim):
    """The venue's position endpoint fails: the executor's check before the stop gives up after
    two reads and sends the stop anyway (a stop sent beats a position left without one)."""
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump(hold=frozenset({("position-sync", "exec.order_event")}))
        assert [o["state"] for o in s.orders("TP")] == ["OPEN"] and s.orders("SL") == []
        sim.control.set_faults([{"kind": "http_error", "endpoint": "GET /fapi/*/positionRisk", "probability": 1.0}])
        s.redeliver("position-sync", "kairos.exec.order_event", s.orders("TP")[0]["command_id"])
        s.pump()
        sim.control.clear_faults()
        assert [o["state"] for o in s.orders("SL")] == ["OPEN"]
        failed = [a for a in sim.control.audit() if "positionRisk" in a["path"] and a.get("faults")]
        assert len(failed) == 2, "the position read did not fail twice: the test proves nothing"


def test_a_placement_the_executor_has_not_taken_up_yet_is_not_asked_for_again(database_url, kafka_bootstrap, sim):
    """The executor is behind (its TP command waits in the queue): further syncs of the position
    (scheduler, emergency check, operator) do not queue copies of the same command."""
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump(hold=frozenset({("executor", "cmd.execute_trade")}))
        assert len(_commands(s, "TP")) == 1 and s.orders("TP") == []  # asked for, no order row yet
        s.sync_open()
        s.sync_open()
        assert len(_commands(s, "TP")) == 1
        assert "in flight" in (s.positions()[0]["outcome"] or "")


def test_restart_in_the_middle_keeps_protection_without_duplicates(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump(hold=frozenset({("position-sync", "exec.order_event")}))  # crash before the SL step
        last = s.last
    with system(database_url, kafka_bootstrap, sim) as s2:  # every function restarted
        s2.last = 0  # KafkaSource redelivers everything after the restart
        s2.pump()
        s2.tick("position-scheduler")
        s2.pump()
        assert s2.last > last
        tp, sl = s2.orders("TP", active=True), s2.orders("SL", active=True)
        assert len(tp) == 1 and len(sl) == 1 and sl[0]["state"] == "OPEN"
        assert len(venue_algos(sim)) == 2
        assert s2.positions()[0]["unprotected_since"] is None


def _path_outcome(s, sim) -> dict:
    """Open 0.010 BTC, run the price through TP 1 and then down through the stop."""
    s.enter("0.010")
    s.settle()
    sim.control.set_price("BTCUSDT", "60700")
    sim.control.step(ticks=2)
    s.settle()
    sim.control.set_price("BTCUSDT", "59300")
    sim.control.step(ticks=2)
    s.settle()
    p = s.positions()[0]
    return {"status": p["status"], "quantity": Decimal(p["quantity"]), "pnl": Decimal(p["realised_pnl"]),
            "resting": len(s.orders(active=True)), "mode": p["mode"]}


def test_shadow_gives_the_live_outcome_on_the_same_price_path(new_database, kafka_bootstrap, sim):
    with system(new_database("live"), kafka_bootstrap, sim, protection=TWO_TP) as s:
        live = _path_outcome(s, sim)
    sim.control.set_price("BTCUSDT", "60000")
    sim.control.step(ticks=2)
    with system(new_database("shadow"), kafka_bootstrap, sim, protection=TWO_TP, mode="shadow") as s:
        shadow = _path_outcome(s, sim)
    assert (live["mode"], shadow["mode"]) == ("LIVE", "SHADOW")
    assert live["status"] == shadow["status"] == "CLOSED"
    assert live["quantity"] == shadow["quantity"] == 0 and live["resting"] == shadow["resting"] == 0
    assert abs(live["pnl"] - shadow["pnl"]) <= Decimal("0.05"), (live, shadow)  # a tick of spread and fees


def test_protected_within_10_s_although_the_venue_drops_20_percent_of_responses(database_url, kafka_bootstrap, sim):
    import time

    from kairos.contracts.codec import to_cloudevent
    from kairos_testkit.execution import command

    sim.control.set_price("ETHUSDT", "3000")
    sim.control.set_price("SOLUSDT", "150")
    sim.control.set_faults([{"kind": "lost_response", "endpoint": "*", "probability": 0.2,
                             "hold_ms": 1500}])
    with system(database_url, kafka_bootstrap, sim) as s:
        started = time.monotonic()
        for symbol, qty in (("BTC/USDT:USDT", "0.010"), ("ETH/USDT:USDT", "0.100"), ("SOL/USDT:USDT", "2")):
            s.deliver("executor", to_cloudevent(command(quantity=qty, symbol=symbol)))
        s.pump()
        elapsed = time.monotonic() - started
        pos = s.positions()
        assert len(pos) == 3 and all(p["unprotected_since"] is None and p["protected_at"] for p in pos)
        assert elapsed < 10, f"protection took {elapsed:.1f} s"
        sim.control.clear_faults()
        s.tick("reconciler")
        s.pump()
        assert len(s.orders("TP", active=True)) == 3 and len(s.orders("SL", active=True)) == 3
        assert len(venue_algos(sim)) == 6  # one TP and one SL per position at the venue, none duplicated
        faults = [a for a in sim.control.audit() if a.get("faults")]
        assert faults, "the fault rule never fired: the test proves nothing"


def test_native_trailing_stop_follows_the_extreme_and_triggers_at_the_callback(database_url, kafka_bootstrap, sim):
    trail = {"default": {"stop_loss": {"distance_pct": "3"}, "trailing": {"callback_rate": "1", "mode": "NATIVE"}}}
    with system(database_url, kafka_bootstrap, sim, protection=trail) as s:
        s.enter("0.010")
        s.pump()
        assert len(s.orders("TRAILING", active=True)) == 1 and len(s.orders("SL", active=True)) == 1
        sim.control.script("BTCUSDT", ["60500", "61000", "62000", "61800", "61500"])  # 61500 < 62000 x 0.99
        sim.control.step(ticks=5)
        s.settle()
        assert s.positions()[0]["status"] == "OPEN"  # 61500 is 0.8 % below the extreme: not yet
        sim.control.script("BTCUSDT", ["61300"])  # 1.1 % below 62000: the trail fires
        sim.control.step(ticks=2)
        s.settle()
        pos = s.positions()[0]
        assert pos["status"] == "CLOSED"
        exit_fill = [f for f in s.outbox("kairos.exec.fill") if f["side"] == "sell"]
        assert len(exit_fill) == 1 and Decimal(exit_fill[0]["price"]) >= Decimal("61300") - Decimal("1")
        assert s.orders(active=True) == [] and venue_algos(sim) == []


def test_emulated_trailing_stop_follows_the_mark_extreme_never_loosens_and_fires(database_url, kafka_bootstrap, sim):
    """No native trailing: the reconciler records the venue's marks, each sync moves the one SL
    up to 1 % under the highest mark seen, never down; the venue's stop then closes the position."""
    trail = {"default": {"stop_loss": {"distance_pct": "3"}, "trailing": {"callback_rate": "1", "mode": "EMULATED"}}}
    with system(database_url, kafka_bootstrap, sim, protection=trail) as s:
        s.enter("0.010")
        s.pump()
        assert s.orders("TRAILING") == []
        first = s.orders("SL", active=True)
        assert len(first) == 1 and first[0]["stop"] < Decimal("58300")  # the configured 3 %
        for price, stop in (("61000", "60390"), ("62000", "61380"), ("61700", "61380")):
            sim.control.script("BTCUSDT", [price])
            sim.control.step(ticks=2)
            s.tick("reconciler")  # records the mark
            s.sync_open()
            s.settle()
            sl = s.orders("SL", active=True)
            assert len(sl) == 1 and sl[0]["stop"] == Decimal(stop), (price, sl)
            assert [Decimal(str(a["trigger_price"])) for a in venue_algos(sim)] == [Decimal(stop)]  # moved, not added
        assert s.positions()[0]["status"] == "OPEN"
        sim.control.script("BTCUSDT", ["61300"])  # below the trailed stop: the venue's stop fires
        sim.control.step(ticks=2)
        s.settle()
        assert s.positions()[0]["status"] == "CLOSED"
        exits = [f for f in s.outbox("kairos.exec.fill") if f["side"] == "sell"]
        assert len(exits) == 1 and Decimal(exits[0]["price"]) > Decimal("61000")  # not the 58,200 stop
        assert s.orders(active=True) == [] and venue_algos(sim) == []


def test_a_mark_already_beyond_the_stop_alerts_and_closes_at_market_before_placing_anything(
        database_url, kafka_bootstrap, sim):
    """position-sync was away while the price fell through the stop: its first sync sees the
    recorded mark beyond the stop and takes the fallback instead of sending a TP and an SL the
    venue would refuse (-2021)."""
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump(hold=frozenset({("position-sync", "cmd.sync_position"), ("position-sync", "exec.order_event")}))
        assert s.positions()[0]["status"] == "OPEN" and s.orders() == []
        sim.control.script("BTCUSDT", ["58000"])  # 3.3 % down; the stop is 1 % under the entry
        sim.control.step(ticks=2)
        s.tick("reconciler")  # records the mark
        s.sync_open()
        s.settle()
        assert s.positions()[0]["status"] == "CLOSED"
        alerts = [a for a in s.outbox("kairos.ops.alert") if a["code"] == "PRICE_BEYOND_STOP"]
        assert len(alerts) == 1 and alerts[0]["severity"] == "critical"
        assert s.orders() == [] and _commands(s, "TP") == [] and _commands(s, "SL") == []
        assert venue_algos(sim, status=None) == [] and venue_position(sim) == 0


@pytest.mark.slow
def test_restart_of_every_function_with_200_open_positions_loses_no_protection(new_database, kafka_bootstrap):
    """200 positions (100 accounts x BTC and ETH); every function is restarted while half of
    them wait for their SL step; afterwards each has exactly one TP and one SL at the venue."""
    from kairos.venue_sim.venue import AccountSeed
    from kairos_testkit.venue_sim import running_venue_sim

    seeds = [(f"acct-{i:03d}", f"key-{i:03d}-abcdefgh", f"secret-{i:03d}-abcdefghijkl") for i in range(100)]
    url = new_database("restart")
    with running_venue_sim(seed=3, warmup_ticks=5, accounts=[AccountSeed(k, sec, Decimal("1000000"))
                                                                for _, k, sec in seeds]) as sim:
        sim.control.set_price("BTCUSDT", "60000")
        sim.control.set_price("ETHUSDT", "3000")
        pairs = (("BTC/USDT:USDT", "0.010"), ("ETH/USDT:USDT", "0.100"))
        slots = [(a, sym, q) for a, _, _ in seeds for sym, q in pairs]
        with system(url, kafka_bootstrap, sim, seeds=seeds) as s:
            for i, (acct, sym, qty) in enumerate(slots):
                s.enter(qty, account=acct, symbol=sym)
                if i % 2 == 0:
                    s.pump()
            s.pump(hold=frozenset({("position-sync", "exec.order_event")}))  # crash before the rest's SL step
        with system(url, kafka_bootstrap, sim, seeds=seeds) as s2:
            s2.last = 0  # everything is delivered again after the restart
            s2.pump()
            s2.tick("position-scheduler")
            s2.pump()
            pos = s2.positions()
            assert len(pos) == 200 and all(p["unprotected_since"] is None for p in pos)
            assert len(s2.orders("TP", active=True)) == 200 and len(s2.orders("SL", active=True)) == 200
            algos = venue_algos(sim)
            assert len(algos) == 400
            per_slot: dict[tuple[str, str], int] = {}
            for a in algos:
                k = (str(a["account"]), f"{a['symbol']} {a['type']}")
                per_slot[k] = per_slot.get(k, 0) + 1
            assert set(per_slot.values()) == {1}, "a protective order was duplicated at the venue"


def test_reduce_only_rejection_leads_to_a_re_read_not_a_retry_loop(database_url, kafka_bootstrap, sim):
    """The venue position was closed behind our back: the TP is refused with -2022; the next
    syncs plan a re-read (no placement), however often the scheduler asks."""
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        sim.ccxt().create_order("BTC/USDT:USDT", "market", "sell", 0.01, None, {"reduceOnly": True})  # by hand
        s.pump()
        from kairos.contracts.codec import to_cloudevent
        from kairos.contracts.envelope import new_event
        from kairos.contracts.positions import SyncPosition

        pid = s.positions()[0]["position_id"]
        for i in range(3):  # distinct syncs (an operator's, say): none of them may place again
            cmd = SyncPosition(command_id=f"op-sync-{i:04d}", position_id=pid, cause="operator")
            s.deliver("position-sync", to_cloudevent(new_event(cmd, source="/tests", partition_key=pid)))
            s.tick("position-scheduler")
            s.pump()
        codes = [a.get("code") for a in sim.control.audit()]
        assert codes.count(-2022) == 1, codes
        assert len(_commands(s, "TP")) == 1 and _commands(s, "SL") == []
        assert [o["state"] for o in s.orders()] == ["REJECTED"]
        assert "reread_position" in (s.positions()[0]["outcome"] or "")
