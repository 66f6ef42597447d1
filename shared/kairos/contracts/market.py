"""Canonical market inputs (``norm.*`` topics)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kairos.contracts.registry import register
from kairos.contracts.types import Amount, Contract, PositiveAmount, UtcDatetime


class Asset(Contract):
    """A canonical asset: our symbol plus the venue's identifier and decimals."""

    symbol: str = Field(description="canonical symbol, e.g. NEAR, USDC; 'UNKNOWN' when unmapped")
    venue_id: str = Field(description="the venue's asset identifier, e.g. nep141:wrap.near")
    decimals: int | None = Field(default=None, ge=0, le=36)


@register("kairos.norm.swap_demand", 1)
class SwapDemand(Contract):
    """Someone wants to swap one asset for another: a demand a solver may fill.

    ``side`` is the demander's side on ``pair`` (base/quote); ``amount`` is in units of
    the asset named by ``amount_asset`` (scaled by its decimals when known, else raw).
    """

    quote_id: str
    asset_in: Asset
    asset_out: Asset
    pair: str = Field(description="BASE/QUOTE, quote is the stable or the out-asset")
    side: Literal["buy", "sell"]
    amount_kind: Literal["exact_in", "exact_out"]
    amount: PositiveAmount
    amount_raw: str = Field(pattern=r"^[0-9]+$", description="integer amount in the asset's smallest unit")
    amount_asset: str
    deadline: UtcDatetime
    min_deadline_ms: int = Field(ge=0)
    notional_hint: Amount | None = None
