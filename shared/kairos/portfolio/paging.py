"""Paging on dead-lettered protection work: a protection command or event that the delivery
gave up on is a position that may be left without its stop, so it becomes a critical
``ops.alert`` naming the position, not a record waiting in a dead-letter topic.

The pager subscribes to the dead-letter topics of the protection path (``dlq.portfolio``,
``dlq.position-sync``, ``dlq.executor``) from another function (slo-monitor) than the one
that failed: whatever killed position-sync cannot silence its pager, and it works the same
under Knative, where the delivery that dead-letters is not our code.

What counts as protection work, and how its position is found:

- ``cmd.sync_position``: always; the payload names the position;
- ``exec.order_event`` / ``exec.fill``: when the order is one of a position's protective
  orders (``position_protective_orders``), or, for a fill, when its slot holds an open
  position (an unfolded fill leaves the projection wrong);
- ``cmd.execute_trade``: when it is linked or its ``client_tag`` names a position;
  ``cmd.cancel_order`` / ``cmd.amend_order``: when their target is linked.

Anything else in those topics (an entry the executor gave up on) is logged, not paged.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope
from kairos.contracts.ops import Alert

log = logging.getLogger(__name__)

CODE = "PROTECTION_DEAD_LETTER"


def _linked(conn: psycopg.Connection, command_id: str) -> str | None:
    row = conn.execute(
        "SELECT position_id FROM position_protective_orders WHERE command_id = %s", (command_id,)
    ).fetchone()
    return str(row[0]) if row else None


def _open_in_slot(conn: psycopg.Connection, account: str, venue: str, symbol: str) -> str | None:
    row = conn.execute(
        "SELECT position_id FROM positions WHERE account = %s AND venue = %s AND symbol = %s"
        " AND status <> 'CLOSED' ORDER BY opened_at DESC LIMIT 1",
        (account, venue, symbol),
    ).fetchone()
    return str(row[0]) if row else None


def position_of(conn: psycopg.Connection, env: Envelope[Any]) -> str | None:
    """The position this dead letter concerns, or None when it is not protection work."""
    kind = env.meta.type.removeprefix("kairos.")
    data = env.data
    if kind == "cmd.sync_position":
        return str(data.position_id)
    if kind == "exec.order_event":
        return _linked(conn, data.command_id)
    if kind == "exec.fill":
        return _linked(conn, data.command_id) or _open_in_slot(conn, data.account, data.venue, data.symbol)
    if kind == "cmd.execute_trade":
        tag = data.client_tag or ""
        return _linked(conn, data.command_id) or (tag.split(":", 1)[0] if tag.startswith("pos-") else None)
    if kind in ("cmd.cancel_order", "cmd.amend_order"):
        return _linked(conn, data.target_command_id)
    return None


def dead_letter_alert(conn: psycopg.Connection, env: Envelope[Any], component: str) -> Alert | None:
    """The critical alert for one dead letter of the protection path (None: not protection work)."""
    position_id = position_of(conn, env)
    failed_at = env.meta.extra.get("knativeerrordest", "")
    status = env.meta.extra.get("knativeerrorcode", "")
    if position_id is None:
        log.warning(
            "dead letter outside the protection path: not paged",
            extra={"type": env.meta.type, "event_id": env.meta.id, "status": status},
        )
        return None
    return Alert(
        severity="critical",
        code=CODE,
        component=component,
        message=(
            f"position {position_id}: {env.meta.type} {env.meta.id} was dead-lettered"
            f" (last answer {status or 'none'}); its protection may be missing or stale"
        ),
        action=(
            "check the position's orders at the venue and its last_sync_outcome; once the failing"
            " function is healthy, replay the dead letter (`kairos dlq replay`) or let the"
            " position-scheduler's next sync place what is missing"
        ),
        details={
            "position_id": position_id,
            "event_type": env.meta.type,
            "event_id": env.meta.id,
            "status": status,
            "failed_at": failed_at,
        },
    )
