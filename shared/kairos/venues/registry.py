"""Which venue package serves an account: ``exec_accounts.venue`` -> its ``VenueDefinition``.

Adding a ccxt venue is one package under ``kairos/venues/`` exporting a definition, plus
one line here (docs/VENUES.md). NEAR Intents is a venue package too, but a quote source,
not a trading venue: it has no definition here.
"""

from __future__ import annotations

from kairos.errors import PermanentError
from kairos.venues.binance_usdm.definition import DEFINITION as BINANCE_USDM
from kairos.venues.port import VenueDefinition

TRADING_VENUES: dict[str, VenueDefinition] = {d.name: d for d in (BINANCE_USDM,)}


class UnknownVenue(PermanentError):
    """The account names a venue Kairos cannot trade: no package, or one unfit for our orders."""

    code = "unknown_venue"
    http_status = 422


def definition(venue: str) -> VenueDefinition:
    """Raises UnknownVenue naming the venues that exist."""
    found = TRADING_VENUES.get(venue)
    if found is None:
        raise UnknownVenue(
            f"venue {venue!r} has no venue package; known: {', '.join(sorted(TRADING_VENUES))}"
            " (register the account with one of these, or add a package: docs/VENUES.md)"
        )
    return found
