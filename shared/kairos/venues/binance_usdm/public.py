"""Binance USD-M's public data, read without keys: the server time and last prices.

A blocking ccxt client (no event loop needed): the clock guard reads the time once a
minute per account, SHADOW reads the last price of the symbol it fills. Failures are
raised as the port's ``VenueUnavailable`` (a failed read is not an answer).
"""

from __future__ import annotations

from decimal import Decimal

from ccxt.base import errors as cx

from kairos.venues.binance_usdm.client import make_client
from kairos.venues.port import VenueUnavailable


class PublicClient:
    def __init__(self, base_url: str | None, timeout_ms: int | None = None) -> None:
        self._ex = make_client(base_url, config={"timeout": timeout_ms} if timeout_ms else {})

    def server_time_ms(self) -> int:
        try:
            return int(self._ex.fetch_time())
        except (cx.BaseError, TimeoutError) as exc:
            raise VenueUnavailable(f"server time: {type(exc).__name__}: {exc}") from None

    def last_price(self, symbol: str) -> Decimal:
        try:
            return Decimal(str(self._ex.fetch_ticker(symbol)["info"]["lastPrice"]))
        except (cx.BaseError, TimeoutError) as exc:
            raise VenueUnavailable(f"last price of {symbol}: {type(exc).__name__}: {exc}") from None
