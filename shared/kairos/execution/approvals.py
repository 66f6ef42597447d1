"""No bypass: an order that opens or increases a position on a LIVE or SHADOW account is sent
only when the risk guardian approved its command (a ``risk_approvals`` row the guardian wrote
in the transaction of its decision, keyed by the command id).

What reduces risk needs no approval: reduce-only orders (position-sync's protective TPs,
stops and trailing stops), exits, and cancels. An amend's replacement order carries the
approval of the order it replaces, up to the quantity approved: an amend that asks for more
would be an entry the guardian never saw, so it is refused (a larger entry is a new intent).
The paper path (NEAR Intents) is not a LIVE or SHADOW account and never comes here.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg

REASON = "NO_RISK_APPROVAL"


def refusal(conn: psycopg.Connection, command_id: str, quantity: Decimal | None = None) -> str | None:
    """The refusal of an entry whose command the guardian did not approve (or, for an amend's
    replacement, of more than ``quantity`` the guardian approved for the order it replaces), or None."""
    approved = conn.execute(
        "SELECT command_id, quantity FROM risk_approvals WHERE command_id = %s OR command_id ="
        " (SELECT replaces_command_id FROM orders WHERE command_id = %s) ORDER BY command_id = %s DESC LIMIT 1",
        (command_id, command_id, command_id),
    ).fetchone()
    if approved:
        approved_for, approved_qty = approved
        if approved_for != command_id and quantity is not None and quantity > approved_qty:
            return _more_than_approved(command_id, quantity, approved_for, approved_qty)
        return None
    return (
        f"{REASON}: command {command_id} opens or increases a position and the risk guardian has not "
        "approved it; send order intents (cmd.order_intent) through the risk guardian"
    )


def enlarging(conn: psycopg.Connection, amend_id: str, target_command_id: str, quantity: Decimal | None) -> str | None:
    """The refusal of an amend asking for more of an entry than the guardian approved for it
    (checked before the target is canceled, so a refused amend leaves the target as it was)."""
    if quantity is None:
        return None
    row = conn.execute("SELECT quantity FROM risk_approvals WHERE command_id = %s", (target_command_id,)).fetchone()
    if row is None or quantity <= row[0]:
        return None
    return _more_than_approved(amend_id, quantity, target_command_id, row[0])


def _more_than_approved(amend_id: str, quantity: Decimal, approved_for: str, approved: Decimal) -> str:
    return (
        f"{REASON}: amend {amend_id} asks for {quantity}, more than the {approved} the risk guardian"
        f" approved for {approved_for}; send a larger entry as a new order intent"
    )
