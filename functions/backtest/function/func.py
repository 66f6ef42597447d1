"""backtest (``cmd.run_backtest`` -> ``event.backtest``): runs a requested backtest over stored
candles, stores its run and result and announces the outcome (or the reason it was refused).

A thin shell: the run, its checks and its storage live in ``kairos.backtest`` (``requests``
turns the command into a run and the run into a ``backtest.completed``).
"""

from __future__ import annotations

from typing import Any

from kairos.backtest import requests
from kairos.contracts.backtest import RunBacktest
from kairos.contracts.envelope import Envelope
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[RunBacktest], ctx: Context) -> list[Envelope[Any]]:
    return requests.on_request(ctx.conn, event)


def new() -> KairosFunction:
    return KairosFunction("backtest", handle)
