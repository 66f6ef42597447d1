"""Portfolio accounting in Postgres: balances, realized and unrealized PnL, equity, daily PnL.

Derived only from ``exec.fill`` (and funding payments): every fill is applied once, keyed by
(account, venue, venue trade id) in ``portfolio_fills``, inside the portfolio function's
delivery transaction, so a redelivered fill changes nothing and a fill that did not happen
is never shown. Every money movement is a ``portfolio_ledger`` row (append-only): gross
realized PnL and fees per fill, funding, and the opening balance the reconciler takes from
the venue the first time it sees an account. A balance is the sum of its ledger rows.

Every figure carries its "as of": a holding's last fill, a mark's observation time, and the
time a balance or a daily PnL was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kairos.contracts.execution import OrderFill
from kairos.portfolio import pnl

ZERO = Decimal(0)


def start_of_day(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s day: where the daily PnL starts."""
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


def _strategy_of(conn: psycopg.Connection, command_id: str) -> str | None:
    r = conn.execute("SELECT strategy_id FROM orders WHERE command_id = %s", (command_id,)).fetchone()
    return str(r[0]) if r else None


def _holding(conn: psycopg.Connection, account: str, venue: str, symbol: str) -> tuple[pnl.Holding, str | None]:
    r = conn.execute(
        "SELECT quantity, avg_price, realized_pnl, fees, funding, strategy_id FROM portfolio_holdings"
        " WHERE account = %s AND venue = %s AND symbol = %s FOR UPDATE",
        (account, venue, symbol),
    ).fetchone()
    if r is None:
        return pnl.Holding(), None
    return pnl.Holding(Decimal(r[0]), Decimal(r[1]), Decimal(r[2]), Decimal(r[3]), Decimal(r[4])), r[5]


def _store_holding(
    conn: psycopg.Connection,
    account: str,
    venue: str,
    symbol: str,
    h: pnl.Holding,
    strategy_id: str | None,
    as_of: datetime,
) -> None:
    conn.execute(
        "INSERT INTO portfolio_holdings (account, venue, symbol, quantity, avg_price, realized_pnl, fees, funding,"
        " strategy_id, as_of) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (account, venue, symbol) DO UPDATE SET quantity = EXCLUDED.quantity,"
        " avg_price = EXCLUDED.avg_price, realized_pnl = EXCLUDED.realized_pnl, fees = EXCLUDED.fees,"
        " funding = EXCLUDED.funding, strategy_id = EXCLUDED.strategy_id,"
        " as_of = greatest(portfolio_holdings.as_of, EXCLUDED.as_of)",
        (account, venue, symbol, h.quantity, h.avg_price, h.realized_pnl, h.fees, h.funding, strategy_id, as_of),
    )


def _ledger(
    conn: psycopg.Connection,
    account: str,
    venue: str,
    asset: str,
    kind: str,
    amount: Decimal,
    symbol: str | None,
    strategy_id: str | None,
    source_id: str,
    at: datetime,
) -> None:
    conn.execute(
        "INSERT INTO portfolio_ledger (account, venue, asset, kind, amount, symbol, strategy_id, source_id, at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (account, venue, kind, source_id) DO NOTHING",
        (account, venue, asset, kind, amount, symbol, strategy_id, source_id, at),
    )


def apply_fill(conn: psycopg.Connection, fill: OrderFill) -> bool:
    """Fold one fill into holdings and the ledger (caller's transaction); False for a duplicate."""
    strategy = _strategy_of(conn, fill.command_id)
    inserted = conn.execute(
        "INSERT INTO portfolio_fills (account, venue, venue_trade_id, symbol, strategy_id, realized_pnl, fee,"
        " traded_at)"
        " VALUES (%s, %s, %s, %s, %s, 0, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (fill.account, fill.venue, fill.venue_trade_id, fill.symbol, strategy, fill.fee, fill.traded_at),
    ).fetchone()
    if inserted is None:
        return False
    held, held_strategy = _holding(conn, fill.account, fill.venue, fill.symbol)
    after, realized = pnl.apply_fill(held, fill.side, fill.quantity, fill.price, fill.fee)
    # the strategy that opened what is held now answers for it
    owner = (
        held_strategy
        if after.quantity != 0 and held.quantity != 0 and (after.quantity > 0) == (held.quantity > 0)
        else (strategy if after.quantity != 0 else held_strategy)
    )
    _store_holding(conn, fill.account, fill.venue, fill.symbol, after, owner or strategy, fill.traded_at)
    conn.execute(
        "UPDATE portfolio_fills SET realized_pnl = %s WHERE account = %s AND venue = %s AND venue_trade_id = %s",
        (realized, fill.account, fill.venue, fill.venue_trade_id),
    )
    asset = pnl.settle_asset(fill.symbol)
    if realized != 0:
        _ledger(
            conn,
            fill.account,
            fill.venue,
            asset,
            "realized",
            realized,
            fill.symbol,
            strategy,
            fill.venue_trade_id,
            fill.traded_at,
        )
    if fill.fee != 0:
        _ledger(
            conn,
            fill.account,
            fill.venue,
            fill.fee_asset or asset,
            "fee",
            -fill.fee,
            fill.symbol,
            strategy,
            fill.venue_trade_id,
            fill.traded_at,
        )
    return True


def apply_funding(
    conn: psycopg.Connection, account: str, venue: str, symbol: str, amount: Decimal, funding_id: str, at: datetime
) -> bool:
    """One funding payment (``amount`` > 0 received); False when already recorded."""
    exists = conn.execute(
        "SELECT 1 FROM portfolio_ledger WHERE account = %s AND venue = %s AND kind = 'funding' AND source_id = %s",
        (account, venue, funding_id),
    ).fetchone()
    if exists:
        return False
    held, strategy = _holding(conn, account, venue, symbol)
    _store_holding(conn, account, venue, symbol, pnl.apply_funding(held, amount), strategy, at)
    _ledger(conn, account, venue, pnl.settle_asset(symbol), "funding", amount, symbol, strategy, funding_id, at)
    return True


def record_opening(
    conn: psycopg.Connection, account: str, venue: str, asset: str, amount: Decimal, at: datetime
) -> bool:
    """The balance the venue reported the first time we saw the account (once per account and asset)."""
    cur = conn.execute(
        "INSERT INTO portfolio_ledger (account, venue, asset, kind, amount, source_id, at)"
        " VALUES (%s, %s, %s, 'opening', %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (account, venue, asset, amount, f"opening:{asset}", at),
    ).fetchone()
    return cur is not None


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    account: str
    venue: str
    asset: str
    amount: Decimal
    as_of: datetime  # the newest ledger row in it


@dataclass(frozen=True)
class HoldingView:
    account: str
    venue: str
    symbol: str
    strategy_id: str | None
    quantity: Decimal
    avg_price: Decimal
    realized_net: Decimal  # gross - fees + funding
    fees: Decimal
    mark: Decimal | None
    mark_as_of: datetime | None
    unrealized: Decimal | None  # None without a mark
    as_of: datetime


def balances(conn: psycopg.Connection, account: str | None = None) -> list[Balance]:
    rows = conn.execute(
        "SELECT account, venue, asset, sum(amount), max(at) FROM portfolio_ledger"
        " WHERE %(a)s::text IS NULL OR account = %(a)s GROUP BY account, venue, asset ORDER BY 1, 2, 3",
        {"a": account},
    ).fetchall()
    return [Balance(r[0], r[1], r[2], Decimal(r[3]), r[4]) for r in rows]


def holdings(conn: psycopg.Connection, account: str | None = None, *, open_only: bool = False) -> list[HoldingView]:
    rows = conn.execute(
        "SELECT h.account, h.venue, h.symbol, h.strategy_id, h.quantity, h.avg_price, h.realized_pnl, h.fees,"
        " h.funding, m.price, m.observed_at, h.as_of FROM portfolio_holdings h"
        " LEFT JOIN mark_prices m ON m.venue = h.venue AND m.symbol = h.symbol"
        " WHERE (%(a)s::text IS NULL OR h.account = %(a)s) AND (NOT %(o)s OR h.quantity <> 0)"
        " ORDER BY h.account, h.symbol",
        {"a": account, "o": open_only},
    ).fetchall()
    out = []
    for r in rows:
        h = pnl.Holding(Decimal(r[4]), Decimal(r[5]), Decimal(r[6]), Decimal(r[7]), Decimal(r[8]))
        mark = Decimal(r[9]) if r[9] is not None else None
        out.append(
            HoldingView(
                r[0],
                r[1],
                r[2],
                r[3],
                h.quantity,
                h.avg_price,
                h.net_realized,
                h.fees,
                mark,
                r[10],
                h.unrealized(mark) if mark is not None else (ZERO if h.quantity == 0 else None),
                r[11],
            )
        )
    return out


@dataclass(frozen=True)
class DailyPnl:
    realized: Decimal  # net of fees, with funding, since 00:00 UTC
    unrealized: Decimal  # of what is held now, at the latest marks
    since: datetime
    as_of: datetime
    missing_marks: tuple[str, ...]  # held symbols without a mark: the figure is incomplete

    @property
    def total(self) -> Decimal:
        return self.realized + self.unrealized


def daily_pnl(
    conn: psycopg.Connection, *, account: str | None = None, strategy_id: str | None = None, now: datetime | None = None
) -> DailyPnl:
    """Realized (net) since 00:00 UTC plus unrealized now, for everything, one account or one strategy.

    The unrealized part is the whole open PnL of what is held (not only today's move): a
    position opened yesterday and down since counts against today's limit, the cautious reading.
    """
    return daily_pnls(conn, [(account, strategy_id)], now=now)[0]


# The realized part per selection (one row each), then every open holding with its mark that a
# selection may read (one row each; ``daily_pnls`` keeps those each selection does read); a
# selection is (account or NULL, strategy or NULL).
_DAILY = """
SELECT s.k, (SELECT coalesce(sum(l.amount), 0) FROM portfolio_ledger l
             WHERE l.kind IN ('realized', 'fee', 'funding') AND l.at >= %(s)s
               AND (s.a IS NULL OR l.account = s.a) AND (s.t IS NULL OR l.strategy_id = s.t)),
       NULL, NULL, NULL, NULL, NULL, NULL
FROM unnest(%(a)s::text[], %(t)s::text[]) WITH ORDINALITY s(a, t, k)
UNION ALL
SELECT NULL, NULL, h.account, h.strategy_id, h.symbol, h.quantity, h.avg_price, m.price
FROM portfolio_holdings h LEFT JOIN mark_prices m ON m.venue = h.venue AND m.symbol = h.symbol
WHERE h.quantity <> 0 AND (%(every)s OR h.account = ANY(%(a)s::text[]) OR h.strategy_id = ANY(%(t)s::text[]))
ORDER BY 1, 3, 5
"""


def daily_pnls(
    conn: psycopg.Connection, selections: list[tuple[str | None, str | None]], *, now: datetime | None = None
) -> list[DailyPnl]:
    """``daily_pnl`` of several selections, each ``(account or None, strategy or None)``, in one
    statement (the risk guardian reads its global, account and strategy scopes at once)."""
    now = now or datetime.now(UTC)
    since = start_of_day(now)
    rows = conn.execute(
        _DAILY,
        {
            "a": [a for a, _ in selections],
            "t": [t for _, t in selections],
            "s": since,
            "every": any(a is None and t is None for a, t in selections),
        },
    ).fetchall()
    realized = [ZERO] * len(selections)
    unrealized = [ZERO] * len(selections)
    missing: list[list[str]] = [[] for _ in selections]
    for k, amount, account, strategy_id, symbol, quantity, avg_price, mark in rows:
        if k is not None:
            realized[k - 1] = Decimal(amount)
            continue
        held = pnl.Holding(Decimal(quantity), Decimal(avg_price))
        for i, (a, t) in enumerate(selections):
            if (a is None or a == account) and (t is None or t == strategy_id):
                if mark is None:
                    missing[i].append(symbol)
                else:
                    unrealized[i] += held.unrealized(Decimal(mark))
    return [DailyPnl(realized[i], unrealized[i], since, now, tuple(missing[i])) for i in range(len(selections))]


def accounts(conn: psycopg.Connection) -> list[str]:
    """Every account with a ledger row or a holding."""
    rows = conn.execute(
        "SELECT account FROM portfolio_ledger UNION SELECT account FROM portfolio_holdings ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def summary(conn: psycopg.Connection, account: str, now: datetime | None = None) -> dict[str, Any]:
    """Balance, realized, unrealized, equity and daily PnL of one account, with "as of"."""
    now = now or datetime.now(UTC)
    bal = sum((b.amount for b in balances(conn, account)), ZERO)
    held = holdings(conn, account)
    realized = sum((h.realized_net for h in held), ZERO)
    unrealized = sum((h.unrealized or ZERO for h in held), ZERO)
    day = daily_pnl(conn, account=account, now=now)
    return {
        "account": account,
        "balance": bal,
        "realized_pnl": realized,
        "unrealized_pnl": unrealized,
        "equity": bal + unrealized,
        "daily_pnl": day.total,
        "missing_marks": list(day.missing_marks),
        "as_of": now,
    }


def snapshot(conn: psycopg.Connection, slot: datetime, now: datetime | None = None) -> int:
    """One ``portfolio_snapshots`` row per account for the hour ``slot`` (again for the same slot: no-op)."""
    now = now or datetime.now(UTC)
    written = 0
    for account in accounts(conn):
        s = summary(conn, account, now)
        details = {
            "holdings": [
                {
                    "symbol": h.symbol,
                    "quantity": str(h.quantity),
                    "avg_price": str(h.avg_price),
                    "realized_net": str(h.realized_net),
                    "unrealized": None if h.unrealized is None else str(h.unrealized),
                    "mark_as_of": h.mark_as_of.isoformat() if h.mark_as_of else None,
                }
                for h in holdings(conn, account, open_only=True)
            ],
            "missing_marks": s["missing_marks"],
        }
        cur = conn.execute(
            "INSERT INTO portfolio_snapshots (account, slot, balance, realized_pnl, unrealized_pnl, equity, daily_pnl,"
            " details, as_of) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (
                account,
                slot,
                s["balance"],
                s["realized_pnl"],
                s["unrealized_pnl"],
                s["equity"],
                s["daily_pnl"],
                Jsonb(details),
                now,
            ),
        ).fetchone()
        written += 1 if cur else 0
    return written
