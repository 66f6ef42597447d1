"""The audit log of trading actions: who did what, when, with which key, and the outcome."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from kairos.api.users import User


def record(
    conn: psycopg.Connection,
    user: User,
    action: str,
    *,
    target: str | None,
    key: str | None,
    request: Any,
    outcome: str,
    status: int,
) -> None:
    conn.execute(
        "INSERT INTO api_audit (username, role, action, target, idempotency_key, request, outcome, status) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (user.username, user.role, action, target, key, json.dumps(request, default=str), outcome, status),
    )


def recent(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    cur = conn.execute(
        "SELECT id, at, username, role, action, target, idempotency_key, outcome, status FROM api_audit "
        "ORDER BY id DESC LIMIT %s",
        (limit,),
    )
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
