"""Backtest events: a request to run one (``cmd.run_backtest``) and its outcome
(``backtest.completed``).

The request carries exactly what the CLI's ``kairos backtest run`` takes, risk limits included;
the fill model's fields keep their meaning (docs/BACKTEST.md). Limit names are checked where the
run is built (``kairos.backtest.config``), so an unknown one is answered with its name. A request
is a command with an id of its own: given ``run_id``, a redelivered request re-runs that id and
is checked against its stored inputs; without one, the id is derived from the inputs, so a
redelivery finds the same run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from kairos.contracts.market_data import Timeframe
from kairos.contracts.registry import register
from kairos.contracts.types import Amount, Contract, PositiveAmount, UtcDatetime


@register("kairos.cmd.run_backtest", 1)
class RunBacktest(Contract):
    """Run a stored strategy version over stored candles with a fill model."""

    strategy_id: str = Field(min_length=1, max_length=63)
    strategy_version: int | None = Field(default=None, ge=1, description="None: the latest version")
    symbols: list[str] = Field(default_factory=list, description="empty: the strategy's universe")
    timeframe: Timeframe | None = Field(default=None, description="None: the strategy's timeframe")
    start: UtcDatetime
    end: UtcDatetime = Field(description="exclusive")
    balance: PositiveAmount
    fill: Literal["next_open", "close"] = "next_open"
    fee_rate: Amount = Field(default=Decimal("0.0004"), description="fraction of traded value per fill")
    slippage_bps: Amount = Field(default=Decimal(0), description="basis points against the trader")
    sizing: Literal["strategy", "all_equity"] = "strategy"
    both_touched: Literal["stop_first", "tp_first"] = "stop_first"
    funding_rate_8h: Amount = Field(default=Decimal(0), description="per 8 hours on open notional")
    risk_limits: dict[Literal["global", "account", "strategy"], dict[str, Amount]] | None = Field(
        default=None,
        description="limit name -> value per scope kind, as `kairos risk limits` names them "
        "({'account': {'max_open_positions': 2}}; {} for none); None: the limits stored when the run starts",
    )
    run_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{2,62}$")
    requested_by: str = Field(default="api", min_length=1)


@register("kairos.backtest.completed", 1)
class BacktestCompleted(Contract):
    """A backtest run finished (``done``) or was refused/failed (``failed``, with the reason)."""

    run_id: str | None = Field(description="None when the request was refused before a run existed")
    strategy_id: str
    status: Literal["done", "failed"]
    error: str | None = None
    result_hash: str | None = None
    data_version: str | None = None
    candles: int = Field(default=0, ge=0)
    trades: int = Field(default=0, ge=0)
    total_return: Amount | None = None
    max_drawdown: Amount | None = None
    requested_by: str
