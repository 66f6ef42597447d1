"""intent-passthrough (``cmd.order_intent`` -> ``cmd.execute_trade``): Stands in the risk stage's
slot until it exists: turns every order intent into one market cmd.execute_trade (command id
derived from the intent id), unchanged.

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
    return KairosFunction("intent-passthrough", handle)
