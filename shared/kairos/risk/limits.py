"""Limits and kill switches in Postgres.

A limit is set per scope: ``global`` (scope id ``*``), ``account`` or ``strategy``. Each change
is a new version row in ``risk_limits`` (who, when, why; rows are never updated or deleted),
and the limit in force is the newest version (``risk_limits_current``); removing a limit is a
version whose value is NULL. A kill switch is one row per scope, and every engage or release
is logged in ``risk_kill_switch_log``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg

from kairos.risk.codes import LIMIT_NAMES

SCOPE_KINDS = ("global", "account", "strategy")
GLOBAL_ID = "*"

Scope = tuple[str, str]  # (kind, id)


class BadLimit(ValueError):
    """An operator asked for a scope or limit that does not exist, or a negative value."""


@dataclass(frozen=True)
class Limit:
    scope_kind: str
    scope_id: str
    name: str
    value: Decimal
    version: int
    set_by: str
    reason: str
    set_at: datetime


def _check(scope_kind: str, name: str) -> None:
    if scope_kind not in SCOPE_KINDS:
        raise BadLimit(f"scope must be one of {', '.join(SCOPE_KINDS)}, not {scope_kind!r}")
    if name not in LIMIT_NAMES:
        raise BadLimit(f"limit must be one of {', '.join(LIMIT_NAMES)}, not {name!r}")


def set_limit(
    conn: psycopg.Connection,
    scope_kind: str,
    scope_id: str,
    name: str,
    value: Decimal | None,
    *,
    actor: str,
    reason: str,
) -> int:
    """A new version of one limit (``value`` None removes it); returns the version number."""
    _check(scope_kind, name)
    if value is not None and value < 0:
        raise BadLimit(f"{name} must be >= 0, not {value}")
    scope_id = GLOBAL_ID if scope_kind == "global" else scope_id
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (f"{scope_kind}:{scope_id}:{name}",))
        r = conn.execute(
            "SELECT coalesce(max(version), 0) FROM risk_limits"
            " WHERE scope_kind = %s AND scope_id = %s AND limit_name = %s",
            (scope_kind, scope_id, name),
        ).fetchone()
        version = int(r[0] if r else 0) + 1
        conn.execute(
            "INSERT INTO risk_limits (scope_kind, scope_id, limit_name, version, value, set_by, reason)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (scope_kind, scope_id, name, version, value, actor, reason),
        )
    return version


def current(conn: psycopg.Connection, scopes: list[Scope] | None = None) -> list[Limit]:
    """The limits in force (of ``scopes``, or all)."""
    sql = (
        "SELECT scope_kind, scope_id, limit_name, value, version, set_by, reason, set_at FROM risk_limits_current"
        " WHERE value IS NOT NULL"
    )
    if scopes is not None:  # only the scopes asked for, filtered by Postgres (a decision reads three)
        sql += " AND (scope_kind, scope_id) IN (SELECT * FROM unnest(%(k)s::text[], %(i)s::text[]))"
    params = {"k": [s[0] for s in scopes or []], "i": [s[1] for s in scopes or []]}
    rows = conn.execute(
        sql + " ORDER BY scope_kind, scope_id, limit_name", params if scopes is not None else None
    ).fetchall()
    wanted = set(scopes) if scopes is not None else None
    return [
        Limit(r[0], r[1], r[2], Decimal(r[3]), r[4], r[5], r[6], r[7])
        for r in rows
        if wanted is None or (r[0], r[1]) in wanted
    ]


def history(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT scope_kind, scope_id, limit_name, version, value, set_by, reason, set_at FROM risk_limits"
            " ORDER BY set_at, scope_kind, scope_id, limit_name, version"
        ).fetchall()
    ]


def engage(conn: psycopg.Connection, scope_kind: str, scope_id: str, *, actor: str, reason: str) -> bool:
    """Engage a kill switch (caller's transaction); True when it was not engaged before."""
    return _switch(conn, scope_kind, scope_id, True, actor, reason)


def release(conn: psycopg.Connection, scope_kind: str, scope_id: str, *, actor: str, reason: str) -> bool:
    return _switch(conn, scope_kind, scope_id, False, actor, reason)


def _switch(conn: psycopg.Connection, scope_kind: str, scope_id: str, engaged: bool, actor: str, reason: str) -> bool:
    if scope_kind not in SCOPE_KINDS:
        raise BadLimit(f"scope must be one of {', '.join(SCOPE_KINDS)}, not {scope_kind!r}")
    scope_id = GLOBAL_ID if scope_kind == "global" else scope_id
    r = conn.execute(
        "INSERT INTO risk_kill_switches AS k (scope_kind, scope_id, engaged, reason, actor) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (scope_kind, scope_id) DO UPDATE SET engaged = EXCLUDED.engaged, reason = EXCLUDED.reason,"
        " actor = EXCLUDED.actor, updated_at = now() WHERE k.engaged IS DISTINCT FROM EXCLUDED.engaged RETURNING 1",
        (scope_kind, scope_id, engaged, reason, actor),
    ).fetchone()
    if r is None:
        return False
    conn.execute(
        "INSERT INTO risk_kill_switch_log (scope_kind, scope_id, engaged, reason, actor) VALUES (%s, %s, %s, %s, %s)",
        (scope_kind, scope_id, engaged, reason, actor),
    )
    return True


def engaged_switches(conn: psycopg.Connection, scopes: list[Scope] | None = None) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT scope_kind, scope_id, reason FROM risk_kill_switches WHERE engaged ORDER BY 1, 2"
    ).fetchall()
    wanted = set(scopes) if scopes is not None else None
    return [(r[0], r[1], r[2]) for r in rows if wanted is None or (r[0], r[1]) in wanted]
