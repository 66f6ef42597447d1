"""Raw events of the NEAR Intents venue: the solver bus's messages, untouched."""

from __future__ import annotations

from typing import Any

from kairos.contracts.registry import register
from kairos.contracts.types import Contract, UtcDatetime


@register("kairos.raw.near_intents.quote", 1)
class RawNearIntentsQuote(Contract):
    """One quote request as the solver bus sent it (the JSON-RPC message, as received).

    ``message`` is the decoded frame, kept whole: replay and debugging need venue truth,
    not our reading of it. ``received_at`` is when the ingest read the frame.
    """

    message: dict[str, Any]
    received_at: UtcDatetime
    subscription: str | None = None
