"""Binance USD-M as Kairos sees it: its capabilities, markets and adapter builders, as data."""

from __future__ import annotations

from kairos.venues.binance_usdm import VENUE, markets
from kairos.venues.binance_usdm.live import LiveAdapter
from kairos.venues.binance_usdm.public import PublicClient
from kairos.venues.binance_usdm.symbols import native_symbol
from kairos.venues.port import Capabilities, Credentials, PublicVenue, VenueAdapter, VenueDefinition

CAPABILITIES = Capabilities(
    order_types=frozenset({"market", "limit", "stop_market", "take_profit_market", "trailing_stop_market"}),
    time_in_force=frozenset({"GTC", "IOC", "FOK", "GTX"}),
    reduce_only=True,
    native_trailing=True,  # TRAILING_STOP_MARKET with activation price and callback rate
    conditional_orders_apart=True,  # algo orders: clientAlgoId, their own open-order list
    one_way_positions=True,
    hedge_mode=False,  # the venue offers it; Kairos reads BOTH positions only and skips the rest
    reports_positions=True,
    client_id_max_length=36,  # ^[.A-Z:/a-z0-9_-]{1,36}$
)


def _live(base_url: str | None, creds: Credentials, timeout_ms: int) -> VenueAdapter:
    return LiveAdapter(base_url, creds, timeout_ms=timeout_ms)


def _public(base_url: str | None, timeout_ms: int | None) -> PublicVenue:
    return PublicClient(base_url, timeout_ms)


DEFINITION = VenueDefinition(
    name=VENUE,
    capabilities=CAPABILITIES,
    markets=markets.by_symbol(),
    native_symbol=native_symbol,
    live=_live,
    public=_public,
)
