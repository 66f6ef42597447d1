"""ccxt's ``binanceusdm`` pointed at the simulator: the venue package's client with a base URL.

``kairos.venues.binance_usdm.client`` builds every Binance USD-M client, production's and
the simulator's; its docstring says what changes for a host other than Binance's.
"""

from __future__ import annotations

from typing import Any

from kairos.venues.binance_usdm.client import make_client


def make_binanceusdm(base_url: str, api_key: str, secret: str, *, async_: bool = False, **options: Any) -> Any:
    """Return ``ccxt.binanceusdm`` (or its ``async_support`` twin) talking to the simulator."""
    return make_client(base_url, api_key, secret, async_=async_, **options)
