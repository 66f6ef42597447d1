"""executor: ``cmd.execute_trade`` -> ``exec.trade_result``, once per command id.

The command id is unique in Postgres: the same command delivered any number of times (as
the same event or as a new one) is executed once, and every delivery is answered with the
very same result event, which downstream inboxes dedupe.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kairos.contracts.codec import envelope_from_json, envelope_to_json
from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.execution import TradeResult
from kairos.domain.paper import paper_fill
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[ExecuteTrade], ctx: Context) -> list[Envelope[TradeResult]]:
    cmd = event.data
    result = paper_fill(cmd, now=datetime.now(UTC))
    out = derive_event(event, result, source=ctx.source, partition_key=f"{cmd.account}|{cmd.symbol}")
    inserted = ctx.conn.execute(
        "INSERT INTO paper_executions (command_id, event_id, result_event) VALUES (%s, %s, %s) "
        "ON CONFLICT (command_id) DO NOTHING RETURNING 1",
        (cmd.command_id, event.meta.id, envelope_to_json(out)),
    ).fetchone()
    if inserted:
        return [out]
    stored = ctx.conn.execute(
        "SELECT result_event::text FROM paper_executions WHERE command_id = %s", (cmd.command_id,)
    ).fetchone()
    assert stored is not None
    return [envelope_from_json(stored[0])]


def new() -> KairosFunction:
    return KairosFunction("executor", handle)
