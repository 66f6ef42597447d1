"""NEAR Intents quote normalization (pure): canonical demand, or a reason to refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from kairos.contracts.near_intents import RawNearIntentsQuote
from kairos.errors import InvalidEvent
from kairos.venues.near_intents.normalize import normalize_quote

USDC = "nep141:17208628f84f5d6ad33f0da3bbbeb27ffcb398eac501a31bd6ad2011e36133a1"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def raw(**params):
    base = {
        "subscription": "s1",
        "quote_id": "q-1",
        "defuse_asset_identifier_in": "nep141:wrap.near",
        "defuse_asset_identifier_out": USDC,
        "exact_amount_in": "2500000000000000000000000",
        "min_deadline_ms": 60000,
    }
    base.update(params)
    base = {k: v for k, v in base.items() if v is not None}
    return RawNearIntentsQuote(message={"jsonrpc": "2.0", "method": "subscribe", "params": base}, received_at=T0)


def test_exact_in_near_for_usdc_is_a_sell_of_near_scaled_by_decimals():
    d = normalize_quote(raw(), T0)
    assert (d.pair, d.side, d.amount_kind, d.amount_asset) == ("NEAR/USDC", "sell", "exact_in", "NEAR")
    assert d.amount == Decimal("2.5")
    assert d.deadline == T0 + timedelta(seconds=60)


def test_giving_usdc_for_near_is_a_buy_of_near():
    d = normalize_quote(
        raw(defuse_asset_identifier_in=USDC, defuse_asset_identifier_out="nep141:wrap.near", exact_amount_in="5000000"),
        T0,
    )
    assert (d.pair, d.side, d.amount, d.amount_asset) == ("NEAR/USDC", "buy", Decimal("5"), "USDC")


def test_exact_out_uses_the_out_asset():
    d = normalize_quote(raw(exact_amount_in=None, exact_amount_out="1000000"), T0)
    assert (d.amount_kind, d.amount_asset, d.amount) == ("exact_out", "USDC", Decimal("1"))


def test_nested_data_params_are_understood():
    flat = raw().message["params"]
    msg = {"jsonrpc": "2.0", "method": "subscribe", "params": {"subscription": "s", "data": flat}}
    assert normalize_quote(RawNearIntentsQuote(message=msg, received_at=T0), T0).quote_id == "q-1"


def test_unknown_asset_is_kept_as_unknown():
    d = normalize_quote(raw(defuse_asset_identifier_out="nep141:new-token.near"), T0)
    assert d.asset_out.symbol == "UNKNOWN" and d.asset_out.decimals is None


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"quote_id": None}, "lacks quote_id"),
        ({"exact_amount_out": "5"}, "exactly one of"),
        ({"exact_amount_in": None}, "exactly one of"),
        ({"exact_amount_in": "-1.5"}, "decimal integer string"),
        ({"exact_amount_in": "0"}, "must be > 0"),
        ({"exact_amount_in": 100}, "decimal integer string"),
        ({"min_deadline_ms": "soon"}, "min_deadline_ms"),
        ({"defuse_asset_identifier_out": "nep141:wrap.near"}, "for itself"),
    ],
)
def test_malformed_quotes_are_refused_with_a_reason(params, reason):
    with pytest.raises(InvalidEvent, match=reason):
        normalize_quote(raw(**params), T0)


def test_message_without_params_is_refused():
    with pytest.raises(InvalidEvent, match="no params"):
        normalize_quote(RawNearIntentsQuote(message={"unparsed_frame": "garbage"}, received_at=T0), T0)
