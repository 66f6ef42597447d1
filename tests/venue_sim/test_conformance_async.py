"""The same surface through ``ccxt.async_support`` (the executor's client), concurrently."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.async_support as accxt
import pytest
from kairos_testkit.venue_sim import BTC, ETH, SOL, VenueSimHandle, run


async def with_client(sim: VenueSimHandle, body: Any) -> Any:
    client = sim.ccxt(async_=True, config={"timeout": 5000})
    try:
        await client.load_markets()
        return await body(client)
    finally:
        await client.close()


def test_async_market_data_methods_return_parsed_structures(sim: VenueSimHandle) -> None:
    async def body(ex: Any) -> None:
        t, ticker, tickers, ob, candles, trades = await asyncio.gather(
            ex.fetch_time(), ex.fetch_ticker(BTC), ex.fetch_tickers(), ex.fetch_order_book(ETH, 5),
            ex.fetch_ohlcv(SOL, "1m", limit=2), ex.fetch_trades(BTC, limit=3),
        )  # fmt: skip
        assert t > 0 and ticker["symbol"] == BTC and set(tickers) == {BTC, ETH, SOL}
        assert ob["bids"][0][0] < ob["asks"][0][0]
        assert len(candles) == 2 and len(trades) == 3

    run(with_client(sim, body))


def test_async_order_lifecycle_create_fetch_cancel_and_trades(sim: VenueSimHandle) -> None:
    sim.control.set_price("ETHUSDT", "3000.00")

    async def body(ex: Any) -> None:
        await ex.set_leverage(10, ETH)
        bought = await ex.create_order(ETH, "market", "buy", 1, params={"newClientOrderId": "a-1"})
        assert bought["status"] == "closed" and bought["average"] == 3000.01
        resting = await ex.create_order(ETH, "limit", "sell", 0.5, 3100, params={"reduceOnly": True})
        by_cid = await ex.fetch_order(None, ETH, params={"origClientOrderId": "a-1"})
        assert by_cid["id"] == bought["id"]
        assert [o["id"] for o in await ex.fetch_open_orders(ETH)] == [resting["id"]]
        assert (await ex.cancel_order(resting["id"], ETH))["status"] == "canceled"
        sl = await ex.create_order(ETH, "market", "sell", None, params={"stopLossPrice": 2900, "closePosition": True})
        assert (await ex.fetch_order(sl["id"], ETH, params={"trigger": True}))["status"] == "open"
        await ex.cancel_all_orders(ETH, params={"trigger": True})
        await ex.cancel_all_orders(ETH)
        (pos,) = await ex.fetch_positions([ETH])
        assert pos["contracts"] == 1
        balance = await ex.fetch_balance()
        assert balance["USDT"]["used"] == pytest.approx(3000.00 * 1 / 10, rel=1e-3)
        trades = await ex.fetch_my_trades(ETH)
        assert len(trades) == 1 and trades[0]["order"] == bought["id"]
        closed = await ex.fetch_closed_orders(ETH)
        assert [o["id"] for o in closed] == [bought["id"]]

    run(with_client(sim, body))


def test_async_concurrent_orders_get_distinct_ids_and_all_fill(sim: VenueSimHandle) -> None:
    async def body(ex: Any) -> None:
        orders = await asyncio.gather(*(ex.create_order(SOL, "market", "buy", 1) for _ in range(20)))
        assert len({o["id"] for o in orders}) == 20
        assert all(o["status"] == "closed" for o in orders)
        (pos,) = await ex.fetch_positions([SOL])
        assert pos["contracts"] == 20

    run(with_client(sim, body))


def test_async_errors_raise_the_same_classes_as_sync(sim: VenueSimHandle) -> None:
    async def body(ex: Any) -> None:
        with pytest.raises(accxt.InvalidOrder):
            await ex.create_order(ETH, "market", "sell", 0.1, params={"reduceOnly": True})
        with pytest.raises(accxt.OrderNotFound):
            await ex.cancel_order("42", ETH)
        with pytest.raises(accxt.InsufficientFunds):
            await ex.create_order(BTC, "limit", "buy", 100, 50000)

    run(with_client(sim, body))


def test_async_lost_response_times_out_and_the_order_is_found_by_client_order_id(sim: VenueSimHandle) -> None:
    sim.control.set_faults([{"kind": "lost_response", "endpoint": "POST /fapi/v1/order", "hold_ms": 1500,
                             "count": 1}])  # fmt: skip

    async def body() -> None:
        ex = sim.ccxt(async_=True, config={"timeout": 700})
        try:
            await ex.load_markets()
            with pytest.raises(accxt.RequestTimeout):
                await ex.create_order(ETH, "market", "buy", 0.1, params={"newClientOrderId": "kairos-async-lost"})
            found = await ex.fetch_order(None, ETH, params={"origClientOrderId": "kairos-async-lost"})
            assert found["status"] == "closed" and found["filled"] == 0.1
        finally:
            await ex.close()

    run(body())


def test_async_rate_limit_and_maintenance_raise_ddos_protection_and_on_maintenance(sim: VenueSimHandle) -> None:
    async def body(ex: Any) -> None:
        sim.control.set_faults([{"kind": "rate_limit", "endpoint": "GET /fapi/v1/depth"}])
        with pytest.raises(accxt.DDoSProtection):
            await ex.fetch_order_book(BTC)
        sim.control.set_faults(maintenance=True)
        with pytest.raises(accxt.OnMaintenance):
            await ex.fetch_ticker(BTC)

    run(with_client(sim, body))
