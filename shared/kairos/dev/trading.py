"""What ``make run`` shows of trading: the risk guardian's latest decisions (approved or
rejected, with the reason) and each account's portfolio with its PnL and "as of"."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from kairos.portfolio import ledger


def lines(conn: psycopg.Connection, decisions: int = 6) -> list[str]:
    """Plain lines, newest decision last; empty before the first intent or fill."""
    out = []
    rows = conn.execute(
        "SELECT decided_at, outcome, coalesce(reason_code, ''), strategy_id, symbol, details->>'message'"
        " FROM risk_decisions ORDER BY decided_at DESC LIMIT %s",
        (decisions,),
    ).fetchall()
    for at, outcome, code, strategy, symbol, message in reversed(rows):
        why = f" {code}: {message}" if code else ""
        out.append(f"risk {at:%H:%M:%S} {outcome} {strategy} {symbol}{why}")
    now = datetime.now(UTC)
    accounts = ledger.accounts(conn)
    for account in accounts:
        s = ledger.summary(conn, account, now)
        out.append(
            f"portfolio {account} balance {s['balance']:.2f} realized {s['realized_pnl']:.4f} unrealized "
            f"{s['unrealized_pnl']:.4f} equity {s['equity']:.2f} daily {s['daily_pnl']:.4f} as of {now:%H:%M:%S}Z"
        )
    return out


def dev_limits(database_url: str, account: str) -> str | None:
    """make run's example risk limit, so rejections show as well as approvals: at most two
    open positions on ``account`` (set once; an operator's own limit for it is left alone)."""
    from decimal import Decimal

    from kairos.risk import limits

    with psycopg.connect(database_url, autocommit=True) as conn:
        if any(lim.scope_id == account for lim in limits.current(conn, [("account", account)])):
            return None
        limits.set_limit(conn, "account", account, "max_open_positions", Decimal(2), actor="kairos dev",
                         reason="make run: a limit the example strategies reach, so rejections show")  # fmt: skip
    return f"kairos dev: risk limit max_open_positions 2 on {account} (kairos risk limits)"
