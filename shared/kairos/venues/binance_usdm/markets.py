"""Binance USD-M perpetuals Kairos knows the rules of: tick, step, limits, fees, brackets.

Values follow Binance USD-M closely enough that ccxt's precision and limit checks behave
as they do against the real venue. SHADOW fills against these specs (with the synthetic
depth of ``kairos.venues.book``) and the simulator serves them as its exchange info.
"""

from __future__ import annotations

from decimal import Decimal

from kairos.venues.markets import Bracket, MarketSpec, markets_by_symbol


def _brackets(rows: list[tuple[int, str, str, str, str]]) -> tuple[Bracket, ...]:
    return tuple(
        Bracket(i + 1, lev, Decimal(floor), Decimal(cap), Decimal(mmr), Decimal(cum))
        for i, (lev, floor, cap, mmr, cum) in enumerate(rows)
    )


MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(
        symbol="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=Decimal("0.10"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal("1000"),
        min_notional=Decimal("100"),
        initial_price=Decimal("60000.00"),
        level_qty=Decimal("2.000"),
        brackets=_brackets(
            [
                (125, "0", "50000", "0.004", "0"),
                (100, "50000", "600000", "0.005", "50"),
                (75, "600000", "3000000", "0.0065", "950"),
                (50, "3000000", "12000000", "0.01", "11450"),
                (25, "12000000", "70000000", "0.02", "131450"),
            ]
        ),
    ),
    MarketSpec(
        symbol="ETHUSDT",
        base="ETH",
        quote="USDT",
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal("10000"),
        min_notional=Decimal("20"),
        initial_price=Decimal("3000.00"),
        level_qty=Decimal("40.000"),
        brackets=_brackets(
            [
                (125, "0", "50000", "0.004", "0"),
                (100, "50000", "600000", "0.005", "50"),
                (75, "600000", "3000000", "0.0065", "950"),
                (50, "3000000", "12000000", "0.01", "11450"),
            ]
        ),
    ),
    MarketSpec(
        symbol="SOLUSDT",
        base="SOL",
        quote="USDT",
        tick_size=Decimal("0.010"),
        step_size=Decimal("1"),
        min_qty=Decimal("1"),
        max_qty=Decimal("1000000"),
        min_notional=Decimal("5"),
        initial_price=Decimal("150.000"),
        level_qty=Decimal("800"),
        brackets=_brackets(
            [
                (75, "0", "5000", "0.01", "0"),
                (50, "5000", "50000", "0.02", "50"),
                (25, "50000", "600000", "0.025", "300"),
                (10, "600000", "6000000", "0.05", "15300"),
            ]
        ),
    ),
)


def by_symbol() -> dict[str, MarketSpec]:
    return markets_by_symbol(MARKETS)
