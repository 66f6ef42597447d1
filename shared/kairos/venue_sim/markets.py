"""The markets the simulator serves: Binance USD-M's specs, defined in production.

``kairos.venues.binance_usdm.markets`` holds the values and ``kairos.venues.markets`` the
shape; the simulator imitates that venue, so it serves the same specs SHADOW fills against.
"""

from __future__ import annotations

from kairos.venues.binance_usdm.markets import MARKETS as DEFAULT_MARKETS
from kairos.venues.markets import Bracket, MarketSpec, markets_by_symbol

__all__ = ["DEFAULT_MARKETS", "Bracket", "MarketSpec", "markets_by_symbol"]
