"""strategy-engine (``norm.candle`` -> ``signal.generated``, ``cmd.order_intent``,
``event.strategy``): Evaluates every running strategy whose universe holds a closed candle on
the stored candle window; emits its signals and order intents once per (strategy version,
symbol, candle); stops every strategy after the executor's recovery.

A thin shell: the stage's rules live in the library (a module of ``kairos`` named for what it
decides), this handler only passes them the event and the connection and returns what they emit.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    # Call the library here (e.g. ``decide(ctx.conn, event.data)``) and return its events,
    # each made with ``derive_event(event, payload, source=ctx.source, ...)``.
    return []


def new() -> KairosFunction:
    return KairosFunction("strategy-engine", handle)
