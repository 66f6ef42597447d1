"""Each Binance error code the venue returns makes ccxt raise the class it raises in production."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest
from kairos_testkit.venue_sim import BTC, ETH, SOL, VenueSimHandle


def last_code(sim: VenueSimHandle) -> int | None:
    return sim.control.audit()[-1]["code"]


def test_wrong_secret_is_rejected_with_1022_as_authentication_error(sim: VenueSimHandle) -> None:
    client = sim.ccxt(secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError):
        client.fetch_balance()
    assert last_code(sim) == -1022


def test_unknown_api_key_is_rejected_with_2015_as_authentication_error(sim: VenueSimHandle) -> None:
    client = sim.ccxt(api_key="nobody", secret="x")
    with pytest.raises(ccxt.AuthenticationError):
        client.fetch_balance()
    assert last_code(sim) == -2015


def test_timestamp_outside_recv_window_is_rejected_with_1021_as_invalid_nonce(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults(clock_offset_ms=-30_000)  # venue clock 30 s behind: requests look early
    with pytest.raises(ccxt.InvalidNonce):
        ex.fetch_balance()
    assert last_code(sim) == -1021


def test_cancel_of_unknown_order_is_2011_order_not_found(sim: VenueSimHandle, ex: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("123", BTC)
    assert last_code(sim) == -2011


def test_cancel_of_filled_order_is_2011_order_not_found(sim: VenueSimHandle, ex: Any) -> None:
    order = ex.create_order(SOL, "market", "buy", 1)
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order(order["id"], SOL)


def test_fetch_of_unknown_order_is_2013_order_not_found(sim: VenueSimHandle, ex: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order(None, BTC, params={"origClientOrderId": "never-sent"})
    assert last_code(sim) == -2013


def test_order_beyond_available_margin_is_2019_insufficient_funds(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("BTCUSDT", "60000.0")
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(BTC, "limit", "buy", 40, 59000)  # 2.36 M notional at 20x needs 118 k
    assert last_code(sim) == -2019


def test_stop_that_would_trigger_at_once_is_2021_order_immediately_fillable(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("BTCUSDT", "60000.0")
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        ex.create_order(BTC, "market", "buy", 0.01, params={"stopPrice": 59000})
    assert last_code(sim) == -2021


def test_reduce_only_without_position_is_2022_invalid_order(sim: VenueSimHandle, ex: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(ETH, "market", "sell", 0.1, params={"reduceOnly": True})
    assert last_code(sim) == -2022


def test_reduce_only_in_the_direction_of_the_position_is_2022_invalid_order(sim: VenueSimHandle, ex: Any) -> None:
    ex.create_order(ETH, "market", "buy", 0.1)
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(ETH, "market", "buy", 0.1, params={"reduceOnly": True})
    assert last_code(sim) == -2022


def test_notional_below_minimum_is_4164_invalid_order(sim: VenueSimHandle, ex: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(BTC, "market", "buy", 0.001)  # ~60 USDT < 100
    assert last_code(sim) == -4164


def test_duplicate_client_order_id_of_open_order_is_4116_invalid_order(sim: VenueSimHandle, ex: Any) -> None:
    ex.create_order(ETH, "limit", "buy", 0.1, 1000, params={"newClientOrderId": "dup-1"})
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(ETH, "limit", "buy", 0.1, 1000, params={"newClientOrderId": "dup-1"})
    assert last_code(sim) == -4116


def test_invalid_leverage_is_4028_bad_request(sim: VenueSimHandle, ex: Any) -> None:
    with pytest.raises(ccxt.BadRequest):
        ex.set_leverage(100, SOL)  # SOL allows at most 75x; ccxt itself refuses > 125
    assert last_code(sim) == -4028


def test_fok_that_cannot_fill_is_5021_and_post_only_that_would_take_is_5022(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_price("BTCUSDT", "60000.0")
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(BTC, "limit", "buy", 30, 60000.1, params={"timeInForce": "FOK"})
    assert last_code(sim) == -5021
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(BTC, "limit", "buy", 0.01, 60001, params={"postOnly": True})
    assert last_code(sim) == -5022


def test_price_off_tick_is_4014_bad_request(sim: VenueSimHandle, ex: Any) -> None:
    # ccxt rounds prices itself; a raw request is the only way to send an off-tick price
    with pytest.raises(ccxt.BadRequest):
        ex.fapiPrivatePostOrder({"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1",
                                 "price": "1000.001", "timeInForce": "GTC"})  # fmt: skip
    assert last_code(sim) == -4014


def test_without_the_linear_error_table_ccxt_would_raise_a_bare_exchange_error(sim: VenueSimHandle) -> None:
    """Documents why ``make_client`` passes ccxt's own linear table (kairos.venues.binance_usdm.client)."""
    plain = ccxt.binanceusdm({"apiKey": sim.api_key, "secret": sim.secret, "options": {"fetchCurrencies": False}})
    plain.urls["api"] = {k: sim.base_url + v.split(".com", 1)[1] for k, v in plain.urls["api"].items()}
    plain.load_markets()
    with pytest.raises(ccxt.ExchangeError) as info:
        plain.create_order(ETH, "market", "sell", 0.1, params={"reduceOnly": True})
    assert type(info.value) is ccxt.ExchangeError
