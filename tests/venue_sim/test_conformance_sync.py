"""Every ccxt method the system needs, through unmodified sync ccxt, asserted on results."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from kairos_testkit.venue_sim import BTC, ETH, SOL, VenueSimHandle


def test_load_markets_has_three_linear_perpetuals_with_venue_precision(ex: Any) -> None:
    btc = ex.market(BTC)
    assert {BTC, ETH, SOL} <= set(ex.markets)
    assert btc["swap"] and btc["linear"] and btc["settle"] == "USDT"
    assert btc["precision"] == {"amount": 0.001, "price": 0.1, "base": 1e-08, "quote": 1e-08}
    assert btc["limits"]["cost"]["min"] == 100
    assert ex.market(SOL)["limits"]["amount"]["min"] == 1


def test_fetch_time_returns_wall_clock_milliseconds(ex: Any) -> None:
    assert abs(ex.fetch_time() - ex.milliseconds()) < 5000


def test_fetch_ticker_and_tickers_agree_with_held_price(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("BTCUSDT", "61000.0")
    assert ex.fetch_ticker(BTC)["last"] == 61000.0
    tickers = ex.fetch_tickers([BTC, ETH])
    assert set(tickers) == {BTC, ETH}
    assert tickers[BTC]["last"] == 61000.0


def test_fetch_order_book_is_built_around_last_price(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("ETHUSDT", "3000.00")
    ob = ex.fetch_order_book(ETH, 5)
    assert ob["bids"][0] == [3000.0, 40.0]
    assert ob["asks"][0] == [3000.01, 40.0]
    assert len(ob["asks"]) == 5


def test_fetch_ohlcv_candles_come_from_the_ticks_that_drove_prices(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.step(ticks=180)
    candles = ex.fetch_ohlcv(BTC, "1m", limit=3)
    assert len(candles) == 3
    for _t, o, h, low, c, _v in candles:
        assert low <= min(o, c) <= max(o, c) <= h
    assert candles[-1][4] == ex.fetch_ticker(BTC)["last"]


def test_fetch_trades_returns_recent_public_trades(ex: Any) -> None:
    trades = ex.fetch_trades(BTC, limit=5)
    assert len(trades) == 5
    assert all(t["symbol"] == BTC and t["price"] > 0 for t in trades)


def test_fetch_balance_of_fresh_account_is_fully_free(ex: Any) -> None:
    usdt = ex.fetch_balance()["USDT"]
    assert usdt == {"free": 100000.0, "used": 0.0, "total": 100000.0}


def test_market_buy_fills_at_best_ask_with_taker_fee(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("BTCUSDT", "60000.0")
    order = ex.create_order(BTC, "market", "buy", 0.01, params={"newClientOrderId": "cid-market-1"})
    assert order["status"] == "closed"
    assert order["filled"] == 0.01 and order["average"] == 60000.1
    assert order["clientOrderId"] == "cid-market-1"
    (trade,) = ex.fetch_my_trades(BTC)
    assert trade["takerOrMaker"] == "taker"
    assert Decimal(str(trade["fee"]["cost"])) == Decimal("60000.1") * Decimal("0.01") * Decimal("0.0005")
    pos = ex.fetch_positions([BTC])[0]
    assert pos["contracts"] == 0.01 and pos["side"] == "long" and pos["entryPrice"] == 60000.1
    truth = sim.control.positions(sim.api_key)[0]["positions"][0]
    assert Decimal(truth["amount"]) == Decimal("0.010")


def test_limit_gtc_rests_then_fills_as_maker_when_price_crosses(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("ETHUSDT", "3000.00")
    order = ex.create_order(ETH, "limit", "buy", 0.5, 2990)
    assert order["status"] == "open" and order["filled"] == 0
    assert [o["id"] for o in ex.fetch_open_orders(ETH)] == [order["id"]]
    sim.control.set_price("ETHUSDT", "2989.50")
    done = ex.fetch_order(order["id"], ETH)
    assert done["status"] == "closed" and done["average"] == 2990.0
    (trade,) = ex.fetch_my_trades(ETH)
    assert trade["takerOrMaker"] == "maker"
    assert trade["fee"]["cost"] == pytest.approx(2990 * 0.5 * 0.0002)


def test_limit_ioc_fills_available_depth_and_expires_rest(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("BTCUSDT", "60000.0")
    # asks: 10 levels x 2 BTC from 60000.1; limit 60000.2 reaches two levels = 4 BTC
    order = ex.create_order(BTC, "limit", "buy", 5, 60000.2, params={"timeInForce": "IOC"})
    assert order["status"] == "expired"
    assert order["filled"] == 4


def test_limit_fok_that_can_fill_fills_completely(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("BTCUSDT", "60000.0")
    order = ex.create_order(BTC, "limit", "buy", 3, 60000.2, params={"timeInForce": "FOK"})
    assert order["status"] == "closed" and order["filled"] == 3


def test_market_order_larger_than_depth_fills_partially_then_completes_next_tick(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("BTCUSDT", "60000.0")
    order = ex.create_order(BTC, "market", "buy", 25)  # depth is 10 x 2 BTC
    assert order["status"] == "open" and order["filled"] == 20
    sim.control.step(ticks=1)
    assert ex.fetch_order(order["id"], BTC)["status"] == "closed"
    assert ex.fetch_positions([BTC])[0]["contracts"] == 25


def test_fetch_order_by_client_order_id_finds_the_order(ex: Any) -> None:
    ex.create_order(ETH, "limit", "sell", 0.1, 9000, params={"newClientOrderId": "kairos-abc-1"})
    found = ex.fetch_order(None, ETH, params={"origClientOrderId": "kairos-abc-1"})
    assert found["clientOrderId"] == "kairos-abc-1" and found["status"] == "open"


def test_cancel_order_and_cancel_all_orders_leave_no_open_orders(ex: Any) -> None:
    a = ex.create_order(ETH, "limit", "buy", 0.1, 1000)
    ex.create_order(ETH, "limit", "buy", 0.1, 1001)
    assert ex.cancel_order(a["id"], ETH)["status"] == "canceled"
    ex.cancel_all_orders(ETH)
    assert ex.fetch_open_orders(ETH) == []
    statuses = sorted(o["status"] for o in ex.fetch_orders(ETH))
    assert statuses == ["canceled", "canceled"]


def test_fetch_closed_orders_lists_filled_orders_only(ex: Any) -> None:
    ex.create_order(SOL, "market", "buy", 1)
    ex.create_order(SOL, "limit", "buy", 1, 100)
    closed = ex.fetch_closed_orders(SOL)
    assert [o["type"] for o in closed] == ["market"]


def test_set_leverage_changes_position_margin(sim: VenueSimHandle, ex: Any) -> None:
    assert ex.set_leverage(5, BTC)["leverage"] == 5
    sim.control.set_price("BTCUSDT", "60000.0")
    ex.create_order(BTC, "market", "buy", 0.1)
    pos = ex.fetch_positions([BTC])[0]
    assert pos["initialMargin"] == pytest.approx(0.1 * 60000 / 5, rel=1e-6)


def test_closing_a_position_realises_pnl_into_the_wallet(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("ETHUSDT", "3000.00")
    ex.create_order(ETH, "market", "buy", 1)  # fills at 3000.01
    sim.control.set_price("ETHUSDT", "3100.00")
    ex.create_order(ETH, "market", "sell", 1, params={"reduceOnly": True})  # fills at 3100.00
    trades = ex.fetch_my_trades(ETH)
    assert trades[-1]["info"]["realizedPnl"] == "99.99"
    fees = Decimal("3000.01") * Decimal("0.0005") + Decimal("3100.00") * Decimal("0.0005")
    expected = Decimal(100000) + Decimal("99.99") - fees
    assert Decimal(str(ex.fetch_balance()["USDT"]["total"])) == expected
    assert ex.fetch_positions([ETH]) == []


def test_cancel_order_by_client_order_id_cancels_that_order(ex: Any) -> None:
    ex.create_order(ETH, "limit", "buy", 0.1, 1000, params={"newClientOrderId": "kairos-cancel-me"})
    cancelled = ex.cancel_order(None, ETH, params={"origClientOrderId": "kairos-cancel-me"})
    assert cancelled["status"] == "canceled" and cancelled["clientOrderId"] == "kairos-cancel-me"


def test_venue_truth_log_records_order_fill_and_position_events(sim: VenueSimHandle, ex: Any) -> None:
    ex.create_order(SOL, "market", "buy", 2, params={"newClientOrderId": "kairos-log-1"})
    kinds = [e["kind"] for e in sim.control.events()]
    assert kinds.count("fill") == 1 and "position" in kinds
    orders = [e for e in sim.control.events(kind="order") if e["client_order_id"] == "kairos-log-1"]
    assert [e["status"] for e in orders] == ["NEW", "FILLED"]
    (order,) = sim.control.orders(sim.api_key)["orders"]
    assert order["status"] == "FILLED" and Decimal(order["executed_qty"]) == 2
