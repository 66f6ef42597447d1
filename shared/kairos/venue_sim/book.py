"""The synthetic book the simulator fills from: production's ``kairos.venues.book``.

SHADOW and the simulator walk the same pure book, so they agree on slippage.
"""

from __future__ import annotations

from kairos.venues.book import best_bid_ask, depth_capacity, fillable, levels, walk

__all__ = ["best_bid_ask", "depth_capacity", "fillable", "levels", "walk"]
