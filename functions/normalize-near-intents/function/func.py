"""normalize-near-intents: ``raw.near_intents.quote`` -> ``norm.swap_demand``.

Normalizing converts a venue-native payload into the canonical internal event.
A quote that cannot be normalized raises InvalidEvent: the runtime answers 4xx with the
reason and the delivery dead-letters it, so nothing is dropped silently.
"""

from __future__ import annotations

from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.market import SwapDemand
from kairos.contracts.near_intents import RawNearIntentsQuote
from kairos.runtime import Context, KairosFunction
from kairos.venues.near_intents.normalize import normalize_quote


def handle(event: Envelope[RawNearIntentsQuote], ctx: Context) -> list[Envelope[SwapDemand]]:
    demand = normalize_quote(event.data, observed_at=event.meta.time)
    return [derive_event(event, demand, source=ctx.source, partition_key=demand.quote_id)]


def new() -> KairosFunction:
    return KairosFunction("normalize-near-intents", handle)
