"""Known NEAR Intents asset identifiers and their canonical symbols and decimals.

An unknown identifier is still normalized (symbol ``UNKNOWN``, decimals unknown), so a
new token shows up downstream instead of being dropped; the reactor's allow-list decides.
"""

from __future__ import annotations

from kairos.contracts.market import Asset

KNOWN_ASSETS: dict[str, tuple[str, int]] = {
    "nep141:wrap.near": ("NEAR", 24),
    "nep141:usdt.tether-token.near": ("USDT", 6),
    "nep141:17208628f84f5d6ad33f0da3bbbeb27ffcb398eac501a31bd6ad2011e36133a1": ("USDC", 6),
    "nep141:base-0x833589fcd6edb6e08f4c7c32d4f71b54bda02913.omft.near": ("USDC", 6),
    "nep141:eth.omft.near": ("ETH", 18),
    "nep141:btc.omft.near": ("BTC", 8),
    "nep141:sol.omft.near": ("SOL", 9),
}

# Which asset of a pair is the quote currency: the first of these that appears.
QUOTE_PRIORITY = ("USDC", "USDT", "ETH", "BTC", "NEAR", "SOL")


def asset(venue_id: str) -> Asset:
    symbol, decimals = KNOWN_ASSETS.get(venue_id, ("UNKNOWN", None))  # type: ignore[arg-type]
    return Asset(symbol=symbol, venue_id=venue_id, decimals=decimals)
