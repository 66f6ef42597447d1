"""A ``cmd.run_backtest`` event -> a stored run -> a ``backtest.completed`` event.

What the ``backtest`` function does (the operator API sends the command). A request that
cannot run (unknown strategy, empty range, missing candles, an id whose stored inputs differ)
is answered with a ``failed`` completion naming the reason, and leaves no run behind; the
command is not retried, since asking again would fail the same way. The completion's id is
derived from the command's id, so a redelivered command announces the same completion.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
from pydantic import ValidationError

from kairos.backtest import runner
from kairos.backtest.config import BacktestRequest, FillModel
from kairos.contracts.backtest import BacktestCompleted, RunBacktest
from kairos.contracts.envelope import Envelope, new_event, stable_id

SOURCE = "kairos/backtest"
TOPIC = "event.backtest"


def request_of(cmd: RunBacktest) -> BacktestRequest:
    return BacktestRequest(
        strategy_id=cmd.strategy_id, strategy_version=cmd.strategy_version, symbols=tuple(cmd.symbols),
        timeframe=cmd.timeframe, start=cmd.start, end=cmd.end, balance=cmd.balance,
        fills=FillModel(fill=cmd.fill, fee_rate=cmd.fee_rate, slippage_bps=cmd.slippage_bps, sizing=cmd.sizing,
                        both_touched=cmd.both_touched, funding_rate_8h=cmd.funding_rate_8h),
        risk_limits=cmd.risk_limits,
    )  # fmt: skip


def on_request(conn: psycopg.Connection, event: Envelope[RunBacktest]) -> list[Envelope[Any]]:
    cmd = event.data
    try:
        outcome = runner.run(conn, request_of(cmd), cmd.run_id, commit_start=False)
    except (runner.BacktestError, ValidationError) as exc:
        reason = str(exc) if isinstance(exc, runner.BacktestError) else "; ".join(
            e["msg"].removeprefix("Value error, ") for e in exc.errors())  # fmt: skip
        done = BacktestCompleted(run_id=cmd.run_id, strategy_id=cmd.strategy_id, status="failed", error=reason,
                                 requested_by=cmd.requested_by)  # fmt: skip
    else:
        m = outcome.metrics
        done = BacktestCompleted(
            run_id=outcome.run_id, strategy_id=cmd.strategy_id, status="done", result_hash=outcome.result_hash,
            data_version=outcome.data_version, candles=outcome.candles, trades=int(m["trades"]),
            total_return=Decimal(f"{m['total_return']:.10f}"), max_drawdown=Decimal(f"{m['max_drawdown']:.10f}"),
            requested_by=cmd.requested_by,
        )  # fmt: skip
    return [new_event(done, source=SOURCE, partition_key=cmd.strategy_id, event_id=stable_id(SOURCE, event.meta.id),
                      correlation_id=event.meta.correlation_id, causation_id=event.meta.id)]  # fmt: skip
