"""Raw solver-bus quote -> canonical :class:`~kairos.contracts.market.SwapDemand` (pure).

Every way a quote can be malformed raises :class:`~kairos.errors.InvalidEvent` with a
reason naming the field, so the function answers 4xx and the quote is dead-lettered with
that reason instead of vanishing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from kairos.contracts.market import Asset, SwapDemand
from kairos.contracts.near_intents import RawNearIntentsQuote
from kairos.errors import InvalidEvent
from kairos.venues.near_intents.assets import QUOTE_PRIORITY, asset

QUOTE_FIELDS = ("quote_id", "defuse_asset_identifier_in", "defuse_asset_identifier_out")


def quote_params(message: dict[str, Any]) -> dict[str, Any]:
    """The quote fields of a JSON-RPC message (flat in ``params``, or in ``params.data``)."""
    params = message.get("params")
    if not isinstance(params, dict):
        raise InvalidEvent("quote message has no params object")
    if "quote_id" not in params and isinstance(params.get("data"), dict):
        return dict(params["data"])
    return params


def _integer_amount(params: dict[str, Any], name: str) -> str:
    value = params[name]
    if not isinstance(value, str) or not value.isdigit():
        raise InvalidEvent(f"{name} must be a decimal integer string, got {value!r}")
    if int(value) <= 0:
        raise InvalidEvent(f"{name} must be > 0, got {value}")
    return value


def _scaled(raw: str, a: Asset) -> Decimal:
    return Decimal(raw).scaleb(-a.decimals) if a.decimals is not None else Decimal(raw)


def pair_and_side(asset_in: Asset, asset_out: Asset) -> tuple[str, str]:
    """BASE/QUOTE and the demander's side: giving the quote currency means buying the base."""
    symbols = (asset_in.symbol, asset_out.symbol)
    quote = next((q for q in QUOTE_PRIORITY if q in symbols and symbols.count(q) == 1), asset_out.symbol)
    if quote == asset_in.symbol:
        return f"{asset_out.symbol}/{quote}", "buy"
    return f"{asset_in.symbol}/{quote}", "sell"


def normalize_quote(raw: RawNearIntentsQuote, observed_at: datetime) -> SwapDemand:
    """The canonical demand of one raw quote; raises InvalidEvent naming what is wrong."""
    params = quote_params(raw.message)
    missing = [f for f in QUOTE_FIELDS if not params.get(f)]
    if missing:
        raise InvalidEvent(f"quote lacks {', '.join(missing)}")
    has_in, has_out = "exact_amount_in" in params, "exact_amount_out" in params
    if has_in == has_out:
        raise InvalidEvent("quote must carry exactly one of exact_amount_in and exact_amount_out")
    min_deadline = params.get("min_deadline_ms", 0)
    if not isinstance(min_deadline, int) or isinstance(min_deadline, bool) or min_deadline < 0:
        raise InvalidEvent(f"min_deadline_ms must be a non-negative integer, got {min_deadline!r}")
    asset_in = asset(str(params["defuse_asset_identifier_in"]))
    asset_out = asset(str(params["defuse_asset_identifier_out"]))
    if asset_in.venue_id == asset_out.venue_id:
        raise InvalidEvent(f"quote swaps {asset_in.venue_id} for itself")
    kind, amount_asset = ("exact_in", asset_in) if has_in else ("exact_out", asset_out)
    raw_amount = _integer_amount(params, "exact_amount_in" if has_in else "exact_amount_out")
    pair, side = pair_and_side(asset_in, asset_out)
    return SwapDemand(
        quote_id=str(params["quote_id"]),
        asset_in=asset_in,
        asset_out=asset_out,
        pair=pair,
        side=side,  # type: ignore[arg-type]
        amount_kind=kind,  # type: ignore[arg-type]
        amount=_scaled(raw_amount, amount_asset),
        amount_raw=raw_amount,
        amount_asset=amount_asset.symbol,
        deadline=observed_at + timedelta(milliseconds=min_deadline),
        min_deadline_ms=min_deadline,
    )
