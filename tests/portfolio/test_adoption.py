"""Positions held at the venue that no fill of ours explains are adopted by the reconciler's
tick: unmanaged, alerted, protected per configuration; our own fills in flight never are."""

from __future__ import annotations

from decimal import Decimal

from kairos_testkit.protection_system import system, venue_algos


def _adoption_alerts(s) -> list[dict]:
    return [a for a in s.outbox("kairos.ops.alert") if a["code"] in {"POSITION_ADOPTED", "POSITION_DRIFT"}]


def test_hand_opened_position_is_adopted_alerted_and_protected(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        sim.ccxt().create_order("BTC/USDT:USDT", "market", "buy", 0.01)  # by hand, not through Kairos
        s.tick("reconciler")
        s.pump()
        pos = s.positions()
        assert len(pos) == 1 and pos[0]["managed"] is False and Decimal(pos[0]["quantity"]) == Decimal("0.01")
        alerts = _adoption_alerts(s)
        assert [a["code"] for a in alerts] == ["POSITION_ADOPTED"]
        assert alerts[0]["details"]["position_id"] == pos[0]["position_id"]
        opened = s.outbox("kairos.event.position_opened")
        assert len(opened) == 1 and opened[0]["managed"] is False
        assert len(s.orders("TP", active=True)) == 1 and len(s.orders("SL", active=True)) == 1
        assert len(venue_algos(sim)) == 2

        s.tick("reconciler")  # the next reconciliation finds it explained
        s.pump()
        assert len(s.positions()) == 1 and len(_adoption_alerts(s)) == 1


def test_own_fill_not_yet_folded_is_never_adopted(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter()  # filled at the venue; its exec.fill waits in the outbox, not folded yet
        assert s.positions() == []
        s.tick("reconciler")  # sees the venue position while the fold is in flight
        s.pump()
        s.tick("reconciler")
        s.pump()
        pos = s.positions()
        assert len(pos) == 1 and pos[0]["managed"] is True
        assert _adoption_alerts(s) == []
        assert len(s.outbox("kairos.event.position_opened")) == 1


def test_a_size_changed_by_hand_is_followed_once_not_alerted_every_tick(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump()
        sim.ccxt().create_order("BTC/USDT:USDT", "market", "buy", 0.005)  # added by hand
        for _ in range(2):
            s.tick("reconciler")
            s.pump()
        adjusted = [a for a in s.outbox("kairos.ops.alert") if a["code"] == "POSITION_ADJUSTED"]
        assert len(adjusted) == 1, "two ticks, one disagreement: followed once"
        (pos,) = s.positions()
        assert pos["managed"] is True and Decimal(pos["quantity"]) == Decimal("0.015")  # the venue's size
        assert _adoption_alerts(s) == []


def test_a_venue_position_from_our_order_of_unknown_outcome_is_not_adopted(database_url, kafka_bootstrap, sim):
    from kairos.contracts.codec import to_cloudevent
    from kairos_testkit.execution import command

    with system(database_url, kafka_bootstrap, sim) as s:
        # our entry filled at the venue, but its answer and every lookup were lost: UNKNOWN
        sim.control.set_faults([{"kind": "lost_response", "endpoint": "POST /fapi/v1/order", "hold_ms": 1500},
                                {"kind": "http_error", "endpoint": "GET /fapi/v1/order"}])
        entry = command()
        # acknowledged: the order row is durable and the executor finishes it (never a dead letter)
        assert s.fns["executor"].process(to_cloudevent(entry)).status == 204
        s.tick("reconciler")  # the venue shows the position; our order's outcome is still unknown
        s.pump()
        assert s.positions() == [] and _adoption_alerts(s) == []
        sim.control.clear_faults()
        s.settle()  # the reconciler learns the fill: the position is ours, managed, never adopted
        (pos,) = s.positions()
        assert pos["managed"] is True and _adoption_alerts(s) == []
