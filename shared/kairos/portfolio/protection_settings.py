"""Protection settings per account and per strategy, stored in Postgres (``protection_settings``).

Why Postgres and not only the environment: an operator changes them with ``kairos account
protect`` without redeploying, and a new account is protected the moment it is added.

Which protection a new position gets (first match wins):

1. its strategy's row (``scope='strategy'``, ``name`` = the ``strategy_id`` of its orders);
2. the environment's per-strategy entry (``KAIROS_POSITIONS_PROTECTION.strategies``);
3. its account's row (``scope='account'``);
4. the environment's ``default`` when it names one;
5. ``config.SAFE_DEFAULT``: a stop-loss 2 % from the entry and a take-profit 4 % from it for the
   whole position. Nothing configured therefore still means protected.

An empty protection (``{}``) means "do not protect"; it has to be chosen explicitly, and a
LIVE account left that way, or with no row of its own, is named at every portfolio start
(``warn_unset``).
"""

from __future__ import annotations

import logging
from typing import Literal

import psycopg

from kairos.portfolio.config import SAFE_DEFAULT, PositionsConfig
from kairos.positions.fold import OpenDefaults
from kairos.positions.model import Mode, Protection

log = logging.getLogger(__name__)

Scope = Literal["account", "strategy"]

def get(conn: psycopg.Connection, scope: Scope, name: str) -> Protection | None:
    row = conn.execute(
        "SELECT protection FROM protection_settings WHERE scope = %s AND name = %s", (scope, name)
    ).fetchone()
    return Protection.model_validate(row[0]) if row else None


def put(conn: psycopg.Connection, scope: Scope, name: str, protection: Protection, by: str) -> None:
    conn.execute(
        "INSERT INTO protection_settings (scope, name, protection, updated_by) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (scope, name) DO UPDATE SET protection = EXCLUDED.protection,"
        " updated_by = EXCLUDED.updated_by, updated_at = now()",
        (scope, name, protection.model_dump_json(exclude_none=True), by),
    )


def resolve(conn: psycopg.Connection, config: PositionsConfig, account: str, strategy_id: str | None) -> Protection:
    """The protection a new position of ``account`` opened by ``strategy_id`` gets (docstring order)."""
    if strategy_id:
        stored = get(conn, "strategy", strategy_id)
        if stored is not None:
            return stored
        if strategy_id in config.strategies:
            return config.strategies[strategy_id]
    stored = get(conn, "account", account)
    if stored is not None:
        return stored
    return config.default or SAFE_DEFAULT


def open_defaults(
    conn: psycopg.Connection, config: PositionsConfig, account: str, strategy_id: str | None, mode: Mode
) -> OpenDefaults:
    """What a position opened by a fill gets; an empty protection = not protected."""
    protection = resolve(conn, config, account, strategy_id)
    return OpenDefaults(strategy_id=strategy_id, mode=mode, protect=not protection.empty, protection=protection)


def warn_unset(conn: psycopg.Connection, config: PositionsConfig) -> list[str]:
    """LIVE accounts with no protection row of their own, or one that protects nothing: each
    is logged as a warning naming what its positions get. Returns their names."""
    rows = conn.execute(
        "SELECT a.account, s.protection FROM exec_accounts a"
        " LEFT JOIN protection_settings s ON s.scope = 'account' AND s.name = a.account"
        " WHERE a.mode = 'live' ORDER BY a.account"
    ).fetchall()
    named = []
    for account, stored in rows:
        if stored is None:
            fallback = "the environment's default" if config.default is not None else "the safe default"
            log.warning(
                "LIVE account has no protection settings: its positions get %s; set them with"
                " 'kairos account protect --account %s --protection ...'", fallback, account,
                extra={"account": account},
            )
            named.append(account)
        elif Protection.model_validate(stored).empty:
            log.warning(
                "LIVE account is set to protect nothing: its positions get no TP/SL unless their"
                " strategy has settings", extra={"account": account},
            )
            named.append(account)
    return named
