"""Optional funding: settled at each funding time on open positions, visible as income."""

from __future__ import annotations

from decimal import Decimal

from kairos_testkit.venue_sim import ETH, START_MS, running_venue_sim


def test_long_position_pays_positive_funding_at_the_funding_time() -> None:
    # market clock starts 10 s before a funding time (START_MS is 00:00 UTC)
    with running_venue_sim(seed=4, warmup_ticks=0, start_ms=START_MS - 10_000, funding_rate=Decimal("0.0001")) as sim:
        ex = sim.ccxt()
        sim.control.set_price("ETHUSDT", "3000.00")
        ex.create_order(ETH, "market", "buy", 1)
        wallet = Decimal(sim.control.positions(sim.api_key)[0]["wallet"])
        sim.control.step(ticks=9)
        assert ex.fetch_funding_history(ETH) == []
        sim.control.step(ticks=1)
        (payment,) = ex.fetch_funding_history(ETH)
        assert Decimal(str(payment["amount"])) == Decimal("-0.3")  # 1 ETH x 3000 x 0.0001
        assert Decimal(sim.control.positions(sim.api_key)[0]["wallet"]) == wallet - Decimal("0.3")
        assert ex.fetch_funding_rate_history(ETH)[-1]["fundingRate"] == 0.0001


def test_funding_is_off_unless_configured() -> None:
    with running_venue_sim(seed=4, warmup_ticks=0, start_ms=START_MS - 2_000) as venue:
        ex = venue.ccxt()
        ex.create_order(ETH, "market", "buy", 1)
        venue.control.step(ticks=3)
        assert ex.fetch_funding_history(ETH) == []
