"""`make run` subscribes the simulator's symbols so candles and prices flow from the first minute."""

from __future__ import annotations

import psycopg
from kairos.dev.markets import subscribe_simulated_markets
from kairos.marketdata import store
from kairos.runtime.db import migrate


def test_the_simulators_symbols_are_subscribed_once(database_url: str) -> None:
    migrate(database_url)
    assert subscribe_simulated_markets(database_url) == ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
    subscribe_simulated_markets(database_url)  # a restart keeps what is there
    with psycopg.connect(database_url) as conn:
        subs = store.subscriptions(conn)
    assert [(s.venue, s.symbol, s.timeframe) for s in subs] == [
        ("binanceusdm", "BTC/USDT:USDT", "1m"), ("binanceusdm", "ETH/USDT:USDT", "1m"),
        ("binanceusdm", "SOL/USDT:USDT", "1m"),
    ]  # fmt: skip
