"""Conditional orders on a scripted price path: stop, take-profit, their limit variants, trailing stop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kairos_testkit.venue_sim import BTC, VenueSimHandle


def open_long(sim: VenueSimHandle, ex: Any, qty: float = 0.1, price: str = "60000.0") -> None:
    sim.control.set_price("BTCUSDT", price)
    ex.create_order(BTC, "market", "buy", qty)


def algo_status(ex: Any, order: dict[str, Any]) -> str:
    return str(ex.fetch_order(order["id"], BTC, params={"trigger": True})["info"]["algoStatus"])


def contracts(ex: Any) -> float:
    positions = ex.fetch_positions([BTC])
    return float(positions[0]["contracts"]) if positions else 0.0


def test_stop_market_close_position_fires_only_when_last_reaches_stop(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    sl = ex.create_order(BTC, "market", "sell", None, params={"stopLossPrice": 59000, "closePosition": True})
    assert sl["status"] == "open" and sl["triggerPrice"] == 59000
    sim.control.script("BTCUSDT", ["59500", "59100", "58900", "58800"])
    sim.control.step(ticks=2)
    assert algo_status(ex, sl) == "NEW" and contracts(ex) == 0.1
    sim.control.step(ticks=1)
    assert algo_status(ex, sl) == "FINISHED"
    assert contracts(ex) == 0.0
    fill = sim.control.fills(sim.api_key)[-1]
    assert fill["side"] == "SELL" and Decimal(fill["price"]) == Decimal("58900.0")  # best bid at 58900


def test_take_profit_market_fires_when_price_rises_to_target(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    tp = ex.create_order(BTC, "market", "sell", 0.1, params={"takeProfitPrice": 61000, "reduceOnly": True})
    sim.control.script("BTCUSDT", ["60500", "60999.9", "61000.5"])
    sim.control.step(ticks=2)
    assert algo_status(ex, tp) == "NEW"
    sim.control.step(ticks=1)
    assert algo_status(ex, tp) == "FINISHED" and contracts(ex) == 0.0


def test_stop_limit_places_a_limit_order_that_fills_when_marketable(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    stop = ex.create_order(BTC, "limit", "sell", 0.1, 58950, params={"stopPrice": 59000, "reduceOnly": True})
    assert stop["info"]["orderType"] == "STOP"
    sim.control.script("BTCUSDT", ["58990"])
    sim.control.step(ticks=1)
    info = ex.fetch_order(stop["id"], BTC, params={"trigger": True})["info"]
    assert info["algoStatus"] == "FINISHED"
    child = ex.fetch_order(info["actualOrderId"], BTC)
    assert child["type"] == "limit" and child["status"] == "closed" and child["price"] == 58950
    assert child["average"] == 58990.0  # taker at the bid, never worse than the limit


def test_take_profit_limit_rests_until_price_reaches_its_limit(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    tp = ex.create_order(BTC, "limit", "sell", 0.1, 61100, params={"takeProfitPrice": 61000, "reduceOnly": True})
    assert tp["info"]["orderType"] == "TAKE_PROFIT"
    sim.control.script("BTCUSDT", ["61050", "61120"])
    sim.control.step(ticks=1)
    assert algo_status(ex, tp) == "TRIGGERED" and contracts(ex) == 0.1
    sim.control.step(ticks=1)
    assert algo_status(ex, tp) == "FINISHED" and contracts(ex) == 0.0
    assert sim.control.fills(sim.api_key)[-1]["maker"] is True


def test_trailing_stop_tracks_the_high_after_activation_and_fires_at_callback(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    trail = ex.create_order(
        BTC, "market", "sell", 0.1, params={"trailingPercent": 1, "trailingTriggerPrice": 60500, "reduceOnly": True}
    )
    assert trail["info"]["orderType"] == "TRAILING_STOP_MARKET"
    # not active below 60500; then the high is 61500, so it fires at or below 61500 * 0.99 = 60885
    sim.control.script("BTCUSDT", ["60200", "59700", "60600", "61500", "61000", "60886", "60885"])
    sim.control.step(ticks=6)
    assert algo_status(ex, trail) == "NEW" and contracts(ex) == 0.1
    sim.control.step(ticks=1)
    assert algo_status(ex, trail) == "FINISHED" and contracts(ex) == 0.0


def test_stop_with_mark_price_working_type_ignores_last_price(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex, qty=0.2)
    on_mark = ex.create_order(
        BTC, "market", "sell", 0.1, params={"stopPrice": 59000, "workingType": "MARK_PRICE", "reduceOnly": True}
    )
    on_last = ex.create_order(BTC, "market", "sell", 0.1, params={"stopPrice": 59000, "reduceOnly": True})
    sim.control.set_price("BTCUSDT", "59500", mark="58990")
    assert algo_status(ex, on_mark) == "FINISHED"
    assert algo_status(ex, on_last) == "NEW"


def test_protective_orders_expire_when_their_position_is_closed(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    sl = ex.create_order(BTC, "market", "sell", None, params={"stopLossPrice": 59000, "closePosition": True})
    tp = ex.create_order(BTC, "limit", "sell", 0.1, 62000, params={"reduceOnly": True})
    ex.create_order(BTC, "market", "sell", 0.1, params={"reduceOnly": True})
    assert algo_status(ex, sl) == "EXPIRED"
    assert ex.fetch_order(tp["id"], BTC)["status"] == "expired"
    assert ex.fetch_open_orders(BTC, params={"trigger": True}) == []


def test_reduce_only_order_larger_than_position_never_flips_it(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    order = ex.create_order(BTC, "market", "sell", 0.3, params={"reduceOnly": True})
    assert order["filled"] == 0.1
    assert contracts(ex) == 0.0


def test_cancel_trigger_order_and_cancel_all_trigger_orders(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    a = ex.create_order(BTC, "market", "sell", 0.1, params={"stopLossPrice": 59000, "reduceOnly": True})
    ex.create_order(BTC, "market", "sell", 0.1, params={"takeProfitPrice": 61000, "reduceOnly": True})
    ex.cancel_order(a["id"], BTC, params={"trigger": True})
    assert algo_status(ex, a) == "CANCELED"
    ex.cancel_all_orders(BTC, params={"trigger": True})
    assert ex.fetch_open_orders(BTC, params={"trigger": True}) == []
    assert len(ex.fetch_orders(BTC, params={"trigger": True})) == 2


def test_trigger_order_is_found_by_its_client_algo_id(sim: VenueSimHandle, ex: Any) -> None:
    open_long(sim, ex)
    ex.create_order(BTC, "market", "sell", 0.1, params={"stopLossPrice": 59000, "reduceOnly": True,
                                                       "clientOrderId": "kairos-sl-1"})  # fmt: skip
    found = ex.fetch_order(None, BTC, params={"trigger": True, "clientOrderId": "kairos-sl-1"})
    assert found["clientOrderId"] == "kairos-sl-1" and found["status"] == "open"
