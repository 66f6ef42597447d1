"""No bypass: an order that opens or increases a position on a LIVE or SHADOW account is sent
only when the risk guardian approved its command (a ``risk_approvals`` row the guardian wrote
in the transaction of its decision, keyed by the command id).

What reduces risk needs no approval: reduce-only orders (position-sync's protective TPs,
stops and trailing stops), exits, and cancels. An amend's replacement order carries the
approval of the order it replaces. The paper path (NEAR Intents) is not a LIVE or SHADOW
account and never comes here.
"""

from __future__ import annotations

import psycopg

REASON = "NO_RISK_APPROVAL"


def refusal(conn: psycopg.Connection, command_id: str) -> str | None:
    """The refusal of an entry whose command the guardian did not approve, or None."""
    approved = conn.execute(
        "SELECT 1 FROM risk_approvals WHERE command_id = %s OR command_id ="
        " (SELECT replaces_command_id FROM orders WHERE command_id = %s) LIMIT 1",
        (command_id, command_id),
    ).fetchone()
    if approved:
        return None
    return (
        f"{REASON}: command {command_id} opens or increases a position and the risk guardian has not "
        "approved it; send order intents (cmd.order_intent) through the risk guardian"
    )
