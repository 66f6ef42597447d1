"""Events of several archived topics, and reading the whole archive back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from kairos.archive.inventory import manifest
from kairos.archive.layout import read_lines
from kairos.archive.objectstore import ObjectStore
from kairos.contracts.envelope import Envelope, new_event
from kairos.contracts.execution import TradeResult
from kairos.contracts.near_intents import RawNearIntentsQuote
from kairos_testkit.events import USDC

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # an hour that is over


def quote(i: int, at: datetime, **overrides: Any) -> Envelope[RawNearIntentsQuote]:
    params = {
        "subscription": "s",
        "quote_id": f"q-{i}",
        "defuse_asset_identifier_in": "nep141:wrap.near",
        "defuse_asset_identifier_out": USDC,
        "exact_amount_in": str(10**24 + i),
        "min_deadline_ms": 60000,
        **overrides,
    }
    msg = {"jsonrpc": "2.0", "method": "subscribe", "params": params}
    return new_event(RawNearIntentsQuote(message=msg, received_at=at), source="/test", partition_key=f"q-{i}",
                     venue="near_intents", observed_at=at)


def trade_result(i: int, at: datetime) -> Envelope[TradeResult]:
    data = TradeResult(command_id=f"c-{i}", account="paper", venue="near_intents", symbol="NEAR/USDC", side="buy",
                       status="filled", requested_quantity=Decimal("1"), filled_quantity=Decimal("1"),
                       average_price=Decimal("3.5"), executed_at=at)
    return new_event(data, source="/test", partition_key="paper|NEAR/USDC", observed_at=at)


def mixed(n: int, hours: int = 3) -> list[Envelope[Any]]:
    """``n`` quotes and ``n // 2`` trade results spread over ``hours`` hours."""
    out: list[Envelope[Any]] = []
    for i in range(n):
        at = T0 + timedelta(seconds=i * hours * 3600 // max(n, 1))
        out.append(quote(i, at))
        if i % 2 == 0:
            out.append(trade_result(i, at))
    return out


def archived_ids(conn: psycopg.Connection, store: ObjectStore) -> Counter[str]:
    """Every event id in every complete object, with how often it occurs."""
    ids: Counter[str] = Counter()
    for row in manifest(conn):
        body = store.get(row.key)
        assert body is not None, f"{row.key} is listed but missing"
        ids.update(e.id for e in read_lines(body))
    return ids
