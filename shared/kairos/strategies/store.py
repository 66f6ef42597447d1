"""Strategies in Postgres: versions (immutable), state and its changes, per-symbol state.

Start and stop are the only ways a state changes (plus the engine applying the executor's
recovery stop); each change is a ``strategy_events`` row and an event on ``event.strategy``
written to the outbox in the same transaction, so the change and its announcement cannot part.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, new_event, now_utc, stable_id
from kairos.contracts.strategies import StrategyStarted, StrategyStopped
from kairos.errors import PermanentError
from kairos.portfolio import protection_settings
from kairos.strategies.language import StrategySpec, canonical, parse

SOURCE = "kairos/strategies"
TOPIC = "event.strategy"


class StrategyError(PermanentError):
    """A strategy command that cannot be done as asked (unknown strategy or version, ...)."""


@dataclass(frozen=True)
class StrategyRow:
    strategy_id: str
    state: str
    running_version: int | None
    latest_version: int
    state_changed_at: datetime
    state_changed_by: str
    state_reason: str


@functools.lru_cache(maxsize=4096)
def _spec_of(document_json: str) -> StrategySpec:
    return parse(json.loads(document_json))


def spec(conn: psycopg.Connection, strategy_id: str, version: int) -> StrategySpec:
    """A stored version, parsed (cached by content: versions never change)."""
    row = conn.execute(
        "SELECT document::text FROM strategy_versions WHERE strategy_id = %s AND version = %s", (strategy_id, version)
    ).fetchone()
    if row is None:
        raise StrategyError(f"strategy {strategy_id!r} has no version {version}")
    return _spec_of(row[0])


def create(conn: psycopg.Connection, spec_: StrategySpec, by: str) -> tuple[int, bool]:
    """Store the document as the strategy's next version; (version, created).

    The same document as the latest version creates nothing (returns it, False). The
    strategy's protection, if given, becomes its protection setting (what position-sync uses
    for the positions it opens)."""
    doc = canonical(spec_)
    conn.execute(
        "INSERT INTO strategies (strategy_id, state_changed_by) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (spec_.name, by),
    )
    conn.execute("SELECT 1 FROM strategies WHERE strategy_id = %s FOR UPDATE", (spec_.name,))
    latest = conn.execute(
        "SELECT version, document FROM strategy_versions WHERE strategy_id = %s ORDER BY version DESC LIMIT 1",
        (spec_.name,),
    ).fetchone()
    if latest is not None and latest[1] == doc:
        return int(latest[0]), False
    version = 1 if latest is None else int(latest[0]) + 1
    conn.execute(
        "INSERT INTO strategy_versions (strategy_id, version, document, created_by) VALUES (%s, %s, %s, %s)",
        (spec_.name, version, json.dumps(doc), by),
    )
    if spec_.protection is not None:
        protection_settings.put(conn, "strategy", spec_.name, spec_.protection, by)
    return version, True


_ROW_SQL = (
    "SELECT s.strategy_id, s.state, s.running_version, max(v.version), s.state_changed_at, s.state_changed_by,"
    " s.state_reason FROM strategies s JOIN strategy_versions v USING (strategy_id)"
)


def rows(conn: psycopg.Connection, strategy_id: str | None = None) -> list[StrategyRow]:
    where = " WHERE s.strategy_id = %s" if strategy_id else ""
    result = conn.execute(
        _ROW_SQL + where + " GROUP BY s.strategy_id ORDER BY s.strategy_id", (strategy_id,) if strategy_id else ()
    ).fetchall()
    return [StrategyRow(r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6]) for r in result]


def symbols(conn: psycopg.Connection, strategy_id: str) -> list[tuple[str, str | None, str, int, int, Any]]:
    """Per symbol: (symbol, position, quantity, bars, needed, last evaluated candle)."""
    return [
        (r[0], r[1], str(r[2]), int(r[3]), int(r[4]), r[5])
        for r in conn.execute(
            "SELECT symbol, position, quantity, bars, needed, last_open_time FROM strategy_symbols"
            " WHERE strategy_id = %s ORDER BY symbol",
            (strategy_id,),
        ).fetchall()
    ]


def _account_mode(conn: psycopg.Connection, account: str) -> str:
    row = conn.execute("SELECT mode FROM exec_accounts WHERE account = %s", (account,)).fetchone()
    if row is None:
        raise StrategyError(f"account {account!r} is not registered (kairos account add {account} ...)")
    return str(row[0]).upper()


def _event(data: Any, strategy_id: str, *parts: object) -> Envelope[Any]:
    return new_event(data, source=SOURCE, partition_key=strategy_id, event_id=stable_id(SOURCE, strategy_id, *parts))


def start(conn: psycopg.Connection, strategy_id: str, version: int | None, by: str) -> Envelope[StrategyStarted]:
    """RUNNING with ``version`` (default: the latest); refuses an unknown version or account.

    A started strategy decides on the candles that close after its start, never on the stored
    history (nor on old candles redelivered after a restart).

    The stored document is validated again first: a strategy that does not validate (today's
    rules, e.g. a document stored under older ones) cannot be started."""
    found = rows(conn, strategy_id)
    if not found:
        raise StrategyError(f"no strategy {strategy_id!r} (kairos strategy list)")
    row = found[0]
    version = version or row.latest_version
    spec_ = spec(conn, strategy_id, version)
    mode = _account_mode(conn, spec_.account)
    at = now_utc()
    # decide only on candles that close after the start: what is stored now is history
    conn.execute(
        "INSERT INTO strategy_symbols (strategy_id, symbol, last_open_time)"
        " SELECT %s, s, (SELECT max(open_time) FROM candles WHERE venue = %s AND symbol = s AND timeframe = %s)"
        " FROM unnest(%s::text[]) AS s ON CONFLICT (strategy_id, symbol) DO UPDATE"
        " SET last_open_time = GREATEST(strategy_symbols.last_open_time, EXCLUDED.last_open_time)",
        (strategy_id, spec_.universe.venue, spec_.universe.timeframe, spec_.universe.symbols),
    )
    conn.execute(
        "UPDATE strategies SET state = 'RUNNING', running_version = %s, state_changed_at = %s,"
        " state_changed_by = %s, state_reason = 'started' WHERE strategy_id = %s",
        (version, at, by, strategy_id),
    )
    event_id = conn.execute(
        "INSERT INTO strategy_events (strategy_id, version, event, actor, reason, at) VALUES (%s, %s, 'started', %s,"
        " 'started', %s) RETURNING id",
        (strategy_id, version, by, at),
    ).fetchone()
    assert event_id is not None
    data = StrategyStarted(
        strategy_id=strategy_id, strategy_version=version, name=spec_.name, account=spec_.account,
        mode=mode,  # type: ignore[arg-type]
        actor=by, at=at,
    )
    return _event(data, strategy_id, "event", event_id[0])


def stop(
    conn: psycopg.Connection, strategy_id: str, by: str, reason: str = "stopped by an operator"
) -> Envelope[StrategyStopped] | None:
    """STOPPED; None when it was not running (nothing changes, nothing is announced)."""
    row = conn.execute(
        "SELECT running_version FROM strategies WHERE strategy_id = %s AND state = 'RUNNING' FOR UPDATE",
        (strategy_id,),
    ).fetchone()
    if row is None:
        if not rows(conn, strategy_id):
            raise StrategyError(f"no strategy {strategy_id!r} (kairos strategy list)")
        return None
    version = int(row[0])
    spec_ = spec(conn, strategy_id, version)
    at = now_utc()
    conn.execute(
        "UPDATE strategies SET state = 'STOPPED', running_version = NULL, state_changed_at = %s,"
        " state_changed_by = %s, state_reason = %s WHERE strategy_id = %s",
        (at, by, reason, strategy_id),
    )
    event_id = conn.execute(
        "INSERT INTO strategy_events (strategy_id, version, event, actor, reason, at) VALUES (%s, %s, 'stopped', %s,"
        " %s, %s) RETURNING id",
        (strategy_id, version, by, reason, at),
    ).fetchone()
    assert event_id is not None
    data = StrategyStopped(
        strategy_id=strategy_id, strategy_version=version, name=spec_.name, account=spec_.account,
        actor=by, reason=reason, at=at,
    )
    return _event(data, strategy_id, "event", event_id[0])


RECOVERY_ACTOR = "recovery"


def apply_recovery_stop(conn: psycopg.Connection) -> list[Envelope[StrategyStopped]]:
    """Stop every strategy started before its ``strategy_control`` scope was stopped.

    The execution service stops scope ``all`` when it recovered with orders in flight (and an
    operator may stop ``all`` or one strategy id with ``kairos control stop``): every strategy
    running since before that moment is stopped here and stays so until an operator starts it
    again (a start after the stop is not undone; ``kairos control resume`` starts nothing)."""
    stale = conn.execute(
        "SELECT DISTINCT ON (s.strategy_id) s.strategy_id, c.scope, c.reason, c.updated_by FROM strategies s"
        " JOIN strategy_control c ON c.stopped AND (c.scope = 'all' OR c.scope = s.strategy_id)"
        " WHERE s.state = 'RUNNING' AND s.state_changed_at < c.updated_at ORDER BY s.strategy_id, c.updated_at"
    ).fetchall()
    out = []
    for strategy_id, scope, why, by in stale:
        actor = RECOVERY_ACTOR if scope == "all" and by == "executor" else f"strategy_control ({by})"
        event = stop(conn, strategy_id, actor, f"strategy_control {scope} stopped: {why}")
        if event is not None:
            out.append(event)
    return out


def running(conn: psycopg.Connection, venue: str, symbol: str, timeframe: str) -> list[tuple[str, int, StrategySpec]]:
    """(id, version, spec) of every RUNNING strategy whose universe holds (venue, symbol, timeframe)."""
    result = conn.execute(
        "SELECT s.strategy_id, s.running_version, v.document::text FROM strategies s"
        " JOIN strategy_versions v ON v.strategy_id = s.strategy_id AND v.version = s.running_version"
        " WHERE s.state = 'RUNNING' AND v.document->'universe'->>'venue' = %s"
        " AND v.document->'universe'->>'timeframe' = %s AND v.document->'universe'->'symbols' ? %s"
        " ORDER BY s.strategy_id",
        (venue, timeframe, symbol),
    ).fetchall()
    return [(r[0], int(r[1]), _spec_of(r[2])) for r in result]
