"""``kairos portfolio [--account A] [--snapshots N]``: balances, positions with PnL, the last
snapshots; every figure with its "as of" (``kairos.portfolio.ledger``). Needs ``DATABASE_URL``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import psycopg

from kairos.errors import ConfigError
from kairos.portfolio import ledger
from kairos.runtime.db import url_from_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", default=None, help="one account (default: all)")
    parser.add_argument("--snapshots", type=int, default=5, help="how many of the last snapshots to show")


def _t(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def render(conn: psycopg.Connection, account: str | None = None, snapshots: int = 5) -> str:
    now = datetime.now(UTC)
    lines = [f"portfolio as of {_t(now)}", "", "balances:"]
    bals = ledger.balances(conn, account)
    lines += [f"  {b.account:<16} {b.asset:<6} {b.amount:>18}  as of {_t(b.as_of)}" for b in bals] or ["  none yet"]
    lines += ["", "positions (net per symbol):"]
    held = ledger.holdings(conn, account)
    for h in held:
        unreal = "unknown (no mark)" if h.unrealized is None else f"{h.unrealized:.4f}"
        lines.append(f"  {h.account:<16} {h.symbol:<16} qty {h.quantity:>12} avg {h.avg_price:.4f} "
                     f"realized {h.realized_net:.4f} (fees {h.fees:.4f}) unrealized {unreal} "
                     f"mark {h.mark} as of {_t(h.mark_as_of)}; last fill {_t(h.as_of)}")  # fmt: skip
    if not held:
        lines.append("  none yet")
    lines += ["", "accounts:"]
    accounts = sorted({b.account for b in bals} | {h.account for h in held})
    for a in accounts:
        s = ledger.summary(conn, a, now)
        missing = f" (no mark for {', '.join(s['missing_marks'])})" if s["missing_marks"] else ""
        lines.append(f"  {a:<16} balance {s['balance']:.4f} realized {s['realized_pnl']:.4f} unrealized "
                     f"{s['unrealized_pnl']:.4f} equity {s['equity']:.4f} daily {s['daily_pnl']:.4f}{missing} "
                     f"as of {_t(s['as_of'])}")  # fmt: skip
    lines += ["", f"last snapshots (up to {snapshots}):"]
    rows = conn.execute(
        "SELECT account, slot, equity, daily_pnl, as_of FROM portfolio_snapshots"
        " WHERE %(a)s::text IS NULL OR account = %(a)s ORDER BY slot DESC, account LIMIT %(n)s",
        {"a": account, "n": snapshots},
    ).fetchall()
    lines += [f"  {r[0]:<16} hour {_t(r[1])} equity {r[2]:.4f} daily {r[3]:.4f} as of {_t(r[4])}" for r in rows] or [
        "  none yet"
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        with psycopg.connect(url_from_env(), autocommit=True) as conn:
            print(render(conn, args.account, args.snapshots))
        return 0
    except ConfigError as exc:
        print(f"kairos portfolio: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        print(f"kairos portfolio: the database refused or did not answer: {exc}", file=sys.stderr)
        return 2
