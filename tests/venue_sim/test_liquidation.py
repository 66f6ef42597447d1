"""A position whose mark reaches its liquidation price is closed by the venue, as on Binance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kairos.venue_sim.venue import AccountSeed
from kairos_testkit.venue_sim import BTC, START_MS, running_venue_sim


def test_long_is_liquidated_at_its_liquidation_price_and_its_orders_cancelled() -> None:
    with running_venue_sim(seed=5, accounts=[AccountSeed("small", "s", Decimal("1000"))], warmup_ticks=5,
                           start_ms=START_MS) as sim:  # fmt: skip
        ex = sim.ccxt()
        ex.set_leverage(20, BTC)
        sim.control.set_price("BTCUSDT", "60000.0")
        ex.create_order(BTC, "market", "buy", 0.3)  # 18 k notional on 1 k wallet
        tp = ex.create_order(BTC, "limit", "sell", 0.3, 65000, params={"reduceOnly": True})
        (pos,) = ex.fetch_positions([BTC])
        liq = pos["liquidationPrice"]
        assert 56000 < liq < 57500
        sim.control.set_price("BTCUSDT", str(Decimal(str(liq)) + Decimal("5")))
        assert ex.fetch_positions([BTC])[0]["contracts"] == 0.3
        sim.control.set_price("BTCUSDT", str(Decimal(str(liq)) - Decimal("5")))
        assert ex.fetch_positions([BTC]) == []
        assert ex.fetch_order(tp["id"], BTC)["status"] == "canceled"
        closing = ex.fetch_closed_orders(BTC)[-1]
        assert closing["clientOrderId"].startswith("autoclose-") and closing["average"] == pytest.approx(liq)
        wallet = Decimal(sim.control.positions("small")[0]["wallet"])
        assert Decimal(0) < wallet < Decimal(200)  # the maintenance margin is what remains


def test_well_margined_position_has_no_liquidation_price() -> None:
    with running_venue_sim(seed=5, warmup_ticks=5, start_ms=START_MS) as venue:
        ex = venue.ccxt()
        ex.create_order(BTC, "market", "buy", 0.01)
        assert ex.fetch_positions([BTC])[0]["liquidationPrice"] is None
