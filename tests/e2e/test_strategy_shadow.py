"""One strategy on a SHADOW account through every stage, as the platform runs them (real
Postgres, broker topics, functions in process, the simulator's prices): candle -> signal ->
intent -> risk guardian -> executor -> fill -> position protected; the stop-loss closes it,
and the strategy's next entry opens a new position instead of reversing the one it no longer has."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kairos.contracts.codec import to_cloudevent
from kairos_testkit import risk as rk
from kairos_testkit.execution import ACCOUNT
from kairos_testkit.protection_system import FUNCTIONS, System, system
from kairos_testkit.strategies import BTC, candle_events, create_and_start, example, history_sim, with_doc
from kairos_testkit.venue_sim import VenueSimHandle


@pytest.fixture(scope="module")
def sim() -> Iterator[VenueSimHandle]:
    with history_sim() as handle:
        yield handle


def intents(s: System) -> list[dict[str, Any]]:
    return s.outbox("kairos.cmd.order_intent")


def feed_until_intent(s: System, sim: VenueSimHandle, candles: list[Any], start: int) -> int:
    """Candles to the strategy engine one by one (each then flows downstream) until one yields
    an intent; returns the index after that candle."""
    seen = len(intents(s))
    last = Decimal(str(sim.ccxt().fetch_ticker(BTC)["last"]))
    for i in range(start, len(candles)):
        with psycopg.connect(s.url, autocommit=True) as conn:  # the guardian wants a fresh mark: the venue's now
            rk.set_mark(conn, BTC, last)
        s.deliver("strategy-engine", to_cloudevent(candles[i]))
        s.settle()
        if len(intents(s)) > seen:
            return i + 1
    raise AssertionError("no intent in the candles left")


@pytest.mark.slow
def test_a_shadow_strategy_trades_to_a_protected_position_and_sees_its_stop_loss(
    database_url: str, kafka_bootstrap: str, sim: VenueSimHandle
) -> None:
    names = (*FUNCTIONS, "risk-guardian", "strategy-engine")
    with system(database_url, kafka_bootstrap, sim, mode="shadow", names=names) as s:
        with psycopg.connect(database_url, autocommit=True) as conn:
            rk.ready(conn, account=ACCOUNT, mode="shadow")
        spec = with_doc(example("sma-crossover"), account=ACCOUNT,
                        universe={"venue": "binanceusdm", "symbols": [BTC], "timeframe": "1m"})  # fmt: skip
        create_and_start(database_url, spec)
        candles = candle_events(database_url, sim)
        nxt = feed_until_intent(s, sim, candles, 0)

        first = intents(s)[-1]
        assert first["kind"] == "entry" and first["account"] == ACCOUNT
        assert [e["signal_id"] for e in s.outbox("kairos.signal.generated")] == [first["signal_id"]]
        with psycopg.connect(database_url) as conn:
            decision = conn.execute("SELECT outcome, command_id FROM risk_decisions WHERE intent_id = %s",
                                    (first["intent_id"],)).fetchone()  # fmt: skip
        assert decision is not None and decision[0] == "approved"
        assert [f["command_id"] for f in s.outbox("kairos.exec.fill")] == [decision[1]]
        [pos] = s.positions()
        assert pos["mode"] == "SHADOW" and pos["strategy_id"] == spec.name and pos["status"] == "OPEN"
        assert pos["side"] == first["position_side"].upper()
        assert pos["protected_at"] is not None and pos["unprotected_since"] is None
        assert {o["kind"] for o in s.orders(active=True)} == {"TP", "SL"}

        # the price runs through the stop-loss (1 % away): SHADOW fills the stop, the position closes
        entry = Decimal(pos["entry_price"])
        through = entry * (Decimal("0.97") if pos["side"] == "LONG" else Decimal("1.03"))
        sim.control.set_price("BTCUSDT", str(through.quantize(Decimal("0.1"))))
        sim.control.step(ticks=2)
        s.settle()
        assert [p["status"] for p in s.positions()] == ["CLOSED"]

        feed_until_intent(s, sim, candles, nxt)
        second = intents(s)[-1]
        # the strategy knows it is flat: a fresh entry of its own size, not a reverse of the closed position
        assert second["kind"] == "entry" and second["position_side"] != first["position_side"]
        assert Decimal(second["quantity"]) == (Decimal(200) / Decimal(second["price_reference"])).quantize(
            Decimal("0.000001"), rounding="ROUND_DOWN"
        )
        latest = s.positions()[-1]
        assert latest["status"] == "OPEN" and latest["side"] == second["position_side"].upper()
        assert latest["protected_at"] is not None
