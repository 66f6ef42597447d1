"""``make run``'s market data: subscribe the simulator's symbols so candles and prices flow.

Every market the simulator serves gets a 1 m subscription starting an hour back (the
simulator's warm-up), so the first cron tick stores an hour of candles and the ticker
source polls those symbols from its first interval. Existing subscriptions are kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from kairos.marketdata import store
from kairos.venues.binance_usdm import VENUE
from kairos.venues.binance_usdm.markets import MARKETS
from kairos.venues.binance_usdm.symbols import unified_symbol


def subscribe_simulated_markets(database_url: str, timeframe: str = "1m") -> list[str]:
    since = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    symbols = [unified_symbol(m.symbol) for m in MARKETS]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for symbol in symbols:
            store.subscribe(conn, VENUE, symbol, timeframe, since)
    return symbols
