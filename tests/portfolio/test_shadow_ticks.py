"""SHADOW protective orders react to each ticker of their symbol, not to the minute's reconciler
run: the reconciler's norm.ticker subscription re-evaluates the SHADOW orders resting on the
ticker's symbol through the same per-order path, so a stop fills (once) on the next ticker after
the price crossed it, the position closes, and a symbol with nothing resting costs no venue call.
No test here ticks the reconciler's cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import new_event
from kairos.contracts.market_data import Ticker
from kairos_testkit.protection_system import System, system

ETH = "ETH/USDT:USDT"
BTC = "BTC/USDT:USDT"


def _ticker(symbol: str, price: str, age_s: float = 0) -> Any:
    """A norm.ticker as normalize-tickers publishes it, ``age_s`` old."""
    at = datetime.now(UTC) - timedelta(seconds=age_s)
    tick = Ticker(venue="binanceusdm", symbol=symbol, price=Decimal(price), exchange_time=at)
    return to_cloudevent(new_event(tick, source="/tests/normalize-tickers", partition_key=f"binanceusdm|{symbol}"))


def _sell_fills(s: System) -> list[dict[str, Any]]:
    return [f for f in s.outbox("kairos.exec.fill") if f["side"] == "sell"]


def _stop_fills(url: str, command_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM fills f JOIN orders o ON o.id = f.order_id WHERE o.command_id = %s", (command_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _open_shadow_position(s: System) -> tuple[str, str]:
    """0.010 BTC bought at 60,000 on the SHADOW account, TP and SL resting; their command ids."""
    s.enter("0.010")
    s.pump()
    (pos,) = s.positions()
    assert pos["mode"] == "SHADOW" and pos["status"] == "OPEN"
    (sl,), (tp,) = s.orders("SL", active=True), s.orders("TP", active=True)
    assert sl["stop"] < Decimal("60000") < tp["stop"]
    return sl["command_id"], tp["command_id"]


def test_a_shadow_stop_fills_on_the_next_ticker_once_and_closes_the_position(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim, mode="shadow") as s:
        sl, _tp = _open_shadow_position(s)
        s.deliver("reconciler", _ticker(BTC, "59950"))  # the stop (59,400) not reached: nothing happens
        s.pump()
        assert s.positions()[0]["status"] == "OPEN" and _sell_fills(s) == []

        sim.control.set_price("BTCUSDT", "59300")  # through the stop
        crossed = _ticker(BTC, "59300")
        s.deliver("reconciler", crossed)
        s.pump()
        (stop,) = s.orders("SL")
        assert stop["state"] == "FILLED"
        (fill,) = _sell_fills(s)
        assert Decimal(fill["quantity"]) == Decimal("0.010") and Decimal(fill["price"]) <= Decimal("59300")
        pos = s.positions()[0]
        assert pos["status"] == "CLOSED" and Decimal(pos["quantity"]) == 0
        assert s.orders(active=True) == []  # the take-profit was canceled once the position closed

        # the same ticker again (a redelivery), and a copy under a new event id: nothing more
        s.deliver("reconciler", crossed)
        s.deliver("reconciler", _ticker(BTC, "59300"))
        s.pump()
        assert len(_sell_fills(s)) == 1 and _stop_fills(database_url, sl) == 1
        assert s.positions()[0]["status"] == "CLOSED"


def test_a_ticker_of_a_symbol_without_resting_shadow_orders_asks_the_venue_nothing(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim, mode="shadow") as s:
        _open_shadow_position(s)
        seen = sim.control.audit()[-1]["seq"]
        s.deliver("reconciler", _ticker(BTC, "60000"))  # resting orders on BTC: their price is read
        asked = sim.control.audit(since=seen)
        assert asked, "a ticker of a symbol with resting SHADOW orders reads the venue's price"
        seen = asked[-1]["seq"]
        s.deliver("reconciler", _ticker(ETH, "3000"))  # nothing rests on ETH
        assert sim.control.audit(since=seen) == []
        s.deliver("reconciler", _ticker(BTC, "60000", age_s=90))  # a backlog's ticker: the minute run looked since
        assert sim.control.audit(since=seen) == []
        assert s.positions()[0]["status"] == "OPEN"


def test_a_ticker_leaves_an_order_another_run_holds_and_fills_it_on_the_next(database_url, kafka_bootstrap, sim):
    """The ticker path takes the per-order lock the minute's run and the executor hold while they
    work on an order, so a ticker at the same moment as the cron never applies a fill beside it."""
    with system(database_url, kafka_bootstrap, sim, mode="shadow") as s:
        sl, _tp = _open_shadow_position(s)
        (stop,) = s.orders("SL")
        sim.control.set_price("BTCUSDT", "59300")
        with psycopg.connect(database_url, autocommit=True) as other:  # the cron's run, mid-way on the stop
            other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (stop["cid"],))
            s.deliver("reconciler", _ticker(BTC, "59300"))
            s.pump()
            assert s.orders("SL")[0]["state"] == "OPEN" and _stop_fills(database_url, sl) == 0
        s.deliver("reconciler", _ticker(BTC, "59300"))
        s.pump()
        assert s.orders("SL")[0]["state"] == "FILLED" and _stop_fills(database_url, sl) == 1
        assert s.positions()[0]["status"] == "CLOSED"


def test_the_resting_query_is_answered_from_its_partial_index(database_url, kafka_bootstrap, sim):
    """Every ticker runs the query, nearly always for a symbol with nothing resting: its
    predicate must stay the one the partial index ``orders_shadow_resting`` was made for."""
    from kairos.execution.repository import RESTING_SHADOW

    with system(database_url, kafka_bootstrap, sim, mode="shadow"), psycopg.connect(database_url) as conn:
        conn.execute("SET enable_seqscan = off")  # a near-empty test table: judge the plan, not the costs
        plan = conn.execute("EXPLAIN " + RESTING_SHADOW, ("binanceusdm", ETH)).fetchall()
    assert "orders_shadow_resting" in " ".join(r[0] for r in plan), plan


def test_the_minute_run_follows_a_stop_however_long_it_has_rested(database_url, kafka_bootstrap, sim):
    """A position held for days keeps its stop resting for days: the reconciler's minute run
    must still bring it level with the venue (for SHADOW: trigger it), not only orders of the
    last 24 h."""
    with system(database_url, kafka_bootstrap, sim, mode="shadow") as s:
        sl, _tp = _open_shadow_position(s)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE orders SET created_at = created_at - interval '3 days'")
        sim.control.set_price("BTCUSDT", "59300")  # through the stop
        s.tick("reconciler")
        s.pump()
        assert s.orders("SL")[0]["state"] == "FILLED" and _stop_fills(database_url, sl) == 1
        assert s.positions()[0]["status"] == "CLOSED"
