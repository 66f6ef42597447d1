"""Risk guardian and portfolio accounting benchmark.

1. guardian: N order intents decided one after another in one process (one connection, each
   decision its own transaction, committed): decisions per second and p50/p99 per decision.
   Every limit kind is set (global, account and strategy scopes), so every decision locks its
   scopes and reads exposure, reservations, the orders of the last minute and the daily PnL.
   20 accounts, 5 symbols, fresh marks, a healthy executor.
2. fill -> PnL: M ``exec.fill`` events delivered to the ``portfolio`` function in process
   (CloudEvent in, the runtime's inbox, positions projection, ledger, outbox, commit), paced
   at ``--fill-rate`` per second; per fill the time from the fill's creation to its ledger row
   being committed and readable: p50/p95/max. The broker hop is not in this number. With
   ``--approved-fills`` each fill's command has the guardian's approval, an order and the
   executor's fill row (written before the clock starts), so projecting it ends a reservation
   (the ``position_fills`` trigger locks the approval and journals the change); without, the
   trigger finds no order and does nothing else.

Run: ``python -m bench risk [--intents 3000] [--fills 400]``. Starts its own embedded Postgres
and Tansu.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import new_event
from kairos.contracts.execution import OrderFill
from kairos.risk import guardian, limits
from kairos.runtime.db import migrate
from kairos_testkit import risk as rk
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.servers import embedded_servers
from kairos_testkit.topics import create_topics

from bench import postgres_cpu

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BNB/USDT:USDT", "XRP/USDT:USDT")
ACCOUNTS = [f"bench-{i:02d}" for i in range(20)]
D = Decimal


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


ALL_LIMITS = ("max_order_quantity", "max_order_notional", "max_symbol_exposure", "max_total_exposure",
              "max_open_positions", "max_orders_per_minute", "max_daily_loss")  # fmt: skip


def bench_guardian(url: str, n: int, profile: str) -> dict[str, float | str]:
    """``profile`` "full": every limit at global, account and strategy scope; "account": the
    order-size and exposure limits of the account only."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE risk_limits, risk_approvals, risk_decisions, risk_alert_log")
        for a in ACCOUNTS:
            rk.ready(conn, account=a, marks={s: D("100") for s in SYMBOLS})
        big = D("1000000000")
        if profile == "full":
            scopes = [("global", "*"), *(("account", a) for a in ACCOUNTS), ("strategy", "strat-a")]
            names: tuple[str, ...] = ALL_LIMITS
        else:
            scopes, names = [("account", a) for a in ACCOUNTS], ALL_LIMITS[:4]
        for scope in scopes:
            for name in names:
                limits.set_limit(conn, scope[0], scope[1], name, big, actor="bench", reason="bench")
        g = guardian.Guardian()
        intents = [rk.intent(n=i, account=ACCOUNTS[i % len(ACCOUNTS)], symbol=SYMBOLS[i % len(SYMBOLS)],
                             quantity="1", price="100") for i in range(n)]  # fmt: skip
        times = []
        approved = 0
        started = time.perf_counter()
        for i, it in enumerate(intents):
            if i % 200 == 0:  # the ticker keeps marks fresh in production; here the bench does
                for sym in SYMBOLS:
                    rk.set_mark(conn, sym, D("100"))
            t0 = time.perf_counter()
            with conn.transaction():
                d = g.decide(conn, it)
            times.append(time.perf_counter() - t0)
            approved += d.approved
        wall = time.perf_counter() - started
    return {"profile": profile, "intents": n, "approved": approved, "per_s": round(n / wall, 1),
            "p50_ms": round(pct(times, 0.5) * 1000, 2), "p99_ms": round(pct(times, 0.99) * 1000, 2),
            "max_ms": round(max(times) * 1000, 2)}  # fmt: skip


APPROVE = (
    "INSERT INTO risk_approvals (command_id, intent_id, account, venue, symbol, strategy_id, side, quantity, price,"
    " increases) VALUES (%(cmd)s, %(cmd)s, %(account)s, 'binanceusdm', %(symbol)s, 'bench', %(side)s, 0.5, 100, true)"
)
ORDER = (
    "INSERT INTO orders (command_id, client_order_id, account, venue, mode, symbol, side, order_type, quantity, intent,"
    " strategy_id, command_event, state) VALUES (%(cmd)s, %(cmd)s, %(account)s, 'binanceusdm', 'shadow', %(symbol)s,"
    " %(side)s, 'market', 0.5, 'entry', 'bench', '{}', 'NEW') RETURNING id"
)
FILL = (
    "INSERT INTO fills (order_id, account, venue, venue_trade_id, quantity, price, traded_at)"
    " VALUES (%(order_id)s, %(account)s, 'binanceusdm', %(trade)s, 0.5, 100, now())"
)


def executed(conn: psycopg.Connection, cmd: str, account: str, side: str, trade: str) -> None:
    """What the guardian and the executor record before a fill reaches the portfolio: the
    approval, the order and its fill (one transaction, as the executor's last one)."""
    args = {"cmd": cmd, "account": account, "symbol": SYMBOLS[0], "side": side, "trade": trade}
    with conn.transaction():
        conn.execute(APPROVE, args)
        row = conn.execute(ORDER, args).fetchone()
        assert row is not None
        conn.execute(FILL, {**args, "order_id": row[0]})
        for state in ("SUBMITTED", "FILLED"):
            conn.execute("UPDATE orders SET state = %s WHERE id = %s", (state, row[0]))


def reservations_ended(conn: psycopg.Connection) -> None:
    """Every projected fill ended its reservation (where reservations are running totals; a
    schema before them has no table to check)."""
    if conn.execute("SELECT to_regclass('risk_reservations')").fetchone() != (None,):
        left = conn.execute("SELECT count(*) FROM risk_reservations WHERE command_id LIKE 'bench-cmd-%'").fetchone()
        assert left == (0,), f"{left} reservations left after every fill was projected"


def bench_fills(url: str, bootstrap: str, m: int, rate: float, approved: bool = False) -> dict[str, float]:
    create_topics(bootstrap)
    lat = []
    pg = 0.0  # the database server's CPU seconds while the fills were processed (not their setup)
    with in_process("portfolio", runtime_env(url, bootstrap)) as fn, psycopg.connect(url, autocommit=True) as conn:
        server = postgres_cpu.server_pid(conn)
        for i in range(m):
            account = ACCOUNTS[i % len(ACCOUNTS)]
            side = "buy" if (i // len(ACCOUNTS)) % 2 == 0 else "sell"
            created = datetime.now(UTC)
            fill = OrderFill(command_id=f"bench-cmd-{i:06d}", client_order_id=f"b{i}", account=account,
                             venue="binanceusdm", symbol=SYMBOLS[0], side=side, venue_trade_id=f"bt{i}",  # type: ignore[arg-type]
                             quantity=D("0.5"), price=D("100") + D(i % 7), fee=D("0.02"), fee_asset="USDT",
                             traded_at=created, mode="shadow")  # fmt: skip
            if approved:
                executed(conn, fill.command_id, account, side, fill.venue_trade_id)
            pg0, t0 = postgres_cpu.server_cpu_s(server), time.perf_counter()
            outcome = fn.process(to_cloudevent(new_event(fill, source="/bench", partition_key=f"{account}|x")))
            assert outcome.status == 204, outcome.reason
            row = conn.execute("SELECT 1 FROM portfolio_fills WHERE venue_trade_id = %s", (f"bt{i}",)).fetchone()
            assert row is not None
            lat.append(time.perf_counter() - t0)
            pg += postgres_cpu.server_cpu_s(server) - pg0
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - t0)))
        if approved:
            reservations_ended(conn)
    return {"fills": m, "p50_ms": round(pct(lat, 0.5) * 1000, 2), "p95_ms": round(pct(lat, 0.95) * 1000, 2),
            "max_ms": round(max(lat) * 1000, 2), "postgres_cpu_ms": round(pg / m * 1000, 2)}  # fmt: skip


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench risk")
    ap.add_argument("--intents", type=int, default=3000)
    ap.add_argument("--fills", type=int, default=400)
    ap.add_argument("--profiles", default="account,full", help="limit profiles: account, full (none: '')")
    ap.add_argument("--fill-rate", type=float, default=50.0)
    ap.add_argument(
        "--approved-fills",
        action="store_true",
        help="each fill's command approved, ordered and filled by the executor first",
    )
    args = ap.parse_args(argv)
    print(f"load average {os.getloadavg()}", flush=True)
    with embedded_servers("kairos-bench-risk-") as servers:
        url, bootstrap = servers.url, servers.bootstrap
        migrate(url)
        for profile in filter(None, args.profiles.split(",")):
            print("guardian", bench_guardian(url, args.intents, profile), flush=True)
        if args.fills:
            print("fill->pnl", bench_fills(url, bootstrap, args.fills, args.fill_rate, args.approved_fills), flush=True)
    print(f"load average {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
