"""Risk approvals for tests that send ``cmd.execute_trade`` straight to the executor.

The executor refuses an entry on a LIVE or SHADOW account without the risk guardian's
approval (``kairos.execution.approvals``). Tests about execution itself (lifecycle, recovery,
duplicates, ...) are not about the guardian, so they record the approval the guardian would
have written, through :func:`approve`, and keep sending commands directly. A test that wants
the refusal sends a command without it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
from kairos.contracts.commands import ExecuteTrade


def needs_approval(cmd: ExecuteTrade) -> bool:
    return cmd.intent == "entry" and not cmd.reduce_only


def approve(target: str | psycopg.Connection, cmd: ExecuteTrade, *, price: Decimal = Decimal("1")) -> None:
    """Record the guardian's approval of ``cmd`` (idempotent); ``target`` a URL or a connection."""
    sql = (
        "INSERT INTO risk_approvals (command_id, intent_id, account, venue, symbol, strategy_id, side, quantity,"
        " price, increases) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, true) ON CONFLICT DO NOTHING"
    )
    args: tuple[Any, ...] = (cmd.command_id, f"test-{cmd.command_id}", cmd.account, cmd.venue, cmd.symbol,
                             cmd.strategy_id, cmd.side, cmd.quantity, price)  # fmt: skip
    if isinstance(target, str):
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(sql, args)
    else:
        target.execute(sql, args)


def ready(conn: psycopg.Connection, *, account: str = "acct-risk", mode: str = "live", venue: str = "binanceusdm",
          marks: dict[str, Decimal] | None = None, executor: str = "HEALTHY") -> None:
    """What the guardian needs before it approves an entry: a LIVE/SHADOW account, an executor
    that reported its recovery state, and fresh marks (``marks``: symbol -> price, observed now)."""
    conn.execute(
        "INSERT INTO exec_accounts (account, venue, mode) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (account, venue, mode),
    )
    conn.execute(
        "INSERT INTO execution_health (function, state) VALUES ('executor', %s)"
        " ON CONFLICT (function) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
        (executor,),
    )
    for symbol, price in (marks or {"BTC/USDT:USDT": Decimal("50000")}).items():
        set_mark(conn, symbol, price, venue=venue)


def set_mark(conn: psycopg.Connection, symbol: str, price: Decimal, *, venue: str = "binanceusdm",
             age_s: float = 0.0) -> None:
    conn.execute(
        "INSERT INTO mark_prices (venue, symbol, price, observed_at)"
        " VALUES (%s, %s, %s, now() - make_interval(secs => %s))"
        " ON CONFLICT (venue, symbol) DO UPDATE SET price = EXCLUDED.price, observed_at = EXCLUDED.observed_at",
        (venue, symbol, price, age_s),
    )


def intent(*, n: int = 0, account: str = "acct-risk", strategy_id: str = "strat-a", symbol: str = "BTC/USDT:USDT",
           side: str = "buy", kind: str = "entry", quantity: str = "0.010", price: str = "50000",
           venue: str = "binanceusdm") -> Any:
    """An order intent as the strategy engine emits it (``n`` makes the ids distinct)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from kairos.contracts.strategies import OrderIntent

    tag = uuid.uuid4().hex[:12]
    return OrderIntent(
        intent_id=f"in-{tag}{n:04d}", strategy_id=strategy_id, strategy_version=1, account=account, venue=venue,
        symbol=symbol, side=side, kind=kind, position_side="long" if (side == "buy") == (kind != "exit") else "short",  # type: ignore[arg-type]
        quantity=Decimal(quantity), reduce_only=kind == "exit", signal_id=f"sg-{tag}{n:04d}", timeframe="1m",
        candle_open_time=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n), price_reference=Decimal(price),
    )  # fmt: skip
