"""The paper executor of the NEAR Intents loop: a simulated fill, stored once per command id.

The fill itself is pure (``kairos.domain.paper``); what this module adds is the exactly-once
rule: the first delivery of a command stores its result event in ``paper_executions`` in the
delivery's transaction, and every later delivery of the same command id (a redelivery, or a
copy under a new event id) answers with the stored event, never a second, different fill.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from kairos.contracts.codec import envelope_from_json, envelope_to_json
from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.execution import TradeResult
from kairos.domain.paper import paper_fill

PAPER_VENUE = "near_intents"

STORE = """
INSERT INTO paper_executions (command_id, event_id, result_event) VALUES (%s, %s, %s)
ON CONFLICT (command_id) DO NOTHING RETURNING 1
"""

STORED = "SELECT result_event::text FROM paper_executions WHERE command_id = %s"


def execute_paper(conn: psycopg.Connection, event: Envelope[ExecuteTrade], source: str) -> Envelope[TradeResult]:
    """The trade result of ``event``'s command: new and stored, or the one stored before."""
    cmd = event.data
    result = paper_fill(cmd, now=datetime.now(UTC))
    out = derive_event(event, result, source=source, partition_key=f"{cmd.account}|{cmd.symbol}")
    if conn.execute(STORE, (cmd.command_id, event.meta.id, envelope_to_json(out))).fetchone():
        return out
    stored = conn.execute(STORED, (cmd.command_id,)).fetchone()
    assert stored is not None, "the conflicting row exists: it is what refused ours"
    return envelope_from_json(stored[0])
