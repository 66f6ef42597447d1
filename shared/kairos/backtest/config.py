"""What a backtest is asked to do: the fill model and the request, in canonical form.

Everything that can change a result is here and nowhere else, so the canonical JSON of a
request (``canonical``) is what a run records and what a re-run is checked against. No field
has a default that depends on the clock, the machine or the environment.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kairos.contracts.market_data import Timeframe
from kairos.risk.codes import LIMIT_NAMES


class FillModel(BaseModel):
    """How orders fill against candles (docs/BACKTEST.md states each rule).

    ``fill``: a decision made at a candle's close fills at the next candle's open
    (``next_open``, the default, what live trading can do) or at that close (``close``).
    ``fee_rate``: commission per fill as a fraction of traded value (0.0004 = 4 bp).
    ``slippage_bps``: added against the trader to market fills and triggered stops.
    ``sizing``: ``strategy`` sizes with the strategy's own rule (as live); ``all_equity``
    invests all available equity at every entry (the convention of several Python tools).
    ``both_touched``: which protective order fills when one candle reaches both the stop and
    a take-profit (``stop_first``, pessimistic, the default; or ``tp_first``).
    ``funding_rate_8h``: optional constant funding rate per 8 hours charged on open notional
    (longs pay a positive rate, shorts receive it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fill: Literal["next_open", "close"] = "next_open"
    fee_rate: Decimal = Field(default=Decimal("0.0004"), ge=0, lt=1)
    slippage_bps: Decimal = Field(default=Decimal(0), ge=0, lt=10_000)
    sizing: Literal["strategy", "all_equity"] = "strategy"
    both_touched: Literal["stop_first", "tp_first"] = "stop_first"
    funding_rate_8h: Decimal = Field(default=Decimal(0), gt=-1, lt=1)


class BacktestRequest(BaseModel):
    """One backtest: which strategy version over which candles, with which money and fills."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy_id: str = Field(min_length=1)
    strategy_version: int | None = Field(default=None, ge=1, description="None: the latest version")
    symbols: tuple[str, ...] = Field(default=(), description="empty: the strategy's universe")
    timeframe: Timeframe | None = Field(default=None, description="None: the strategy's timeframe")
    start: datetime
    end: datetime
    balance: Decimal = Field(gt=0)
    fills: FillModel = FillModel()
    risk_limits: dict[Literal["global", "account", "strategy"], dict[str, Decimal]] | None = Field(
        default=None,
        description="risk limits per scope kind ({'account': {'max_open_positions': 2}}); None: the limits "
        "stored for the strategy's account and the strategy (and global) when the run starts",
    )

    @field_validator("risk_limits")
    @classmethod
    def _limits(cls, value: dict[str, dict[str, Decimal]] | None) -> dict[str, dict[str, Decimal]] | None:
        for kind, named in (value or {}).items():
            for name, limit in named.items():
                if name not in LIMIT_NAMES:
                    raise ValueError(f"{kind} limit must be one of {', '.join(LIMIT_NAMES)}, not {name!r}")
                if limit < 0:
                    raise ValueError(f"{kind} {name} must be >= 0, not {limit}")
        return value

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _range(self) -> BacktestRequest:
        if self.end <= self.start:
            raise ValueError(f"empty range: --to {self.end.isoformat()} is not after --from {self.start.isoformat()}")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"each symbol once: {list(self.symbols)}")
        return self


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace, decimals and times as text: the same bytes in every process."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)


def digest(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()
