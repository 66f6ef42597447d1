"""Inbound events as the sources would send them: a PingSource tick, a NEAR Intents quote."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.v1.event import CloudEvent
from kairos.contracts.envelope import Envelope, new_event
from kairos.contracts.near_intents import RawNearIntentsQuote

USDC = "nep141:17208628f84f5d6ad33f0da3bbbeb27ffcb398eac501a31bd6ad2011e36133a1"


def ping_event(source: str, scheduled: datetime, data: dict[str, Any] | None = None) -> CloudEvent:
    return CloudEvent(
        attributes={
            "id": str(uuid.uuid4()),
            "type": "dev.knative.sources.ping",
            "source": source,
            "specversion": "1.0",
            "time": scheduled,
            "datacontenttype": "application/json",
        },
        data=json.loads(json.dumps(data or {})),
    )


def quote_event(quote_id: str = "q-1", *, at: datetime | None = None, **params: Any) -> Envelope[RawNearIntentsQuote]:
    """A solver-bus quote request as the ingest records it (NEAR in, USDC out), received
    ``at`` (default now); ``params`` override fields of the quote."""
    p: dict[str, Any] = {
        "subscription": "s",
        "quote_id": quote_id,
        "defuse_asset_identifier_in": "nep141:wrap.near",
        "defuse_asset_identifier_out": USDC,
        "exact_amount_in": "1000000000000000000000000",
        "min_deadline_ms": 60000,
    }
    p.update(params)
    msg = {"jsonrpc": "2.0", "method": "subscribe", "params": p}
    received = at or datetime.now(UTC)
    return new_event(
        RawNearIntentsQuote(message=msg, received_at=received),
        source="/test",
        partition_key=quote_id,
        venue="near_intents",
        observed_at=at,
    )
