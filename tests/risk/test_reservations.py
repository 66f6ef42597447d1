"""The reservation totals the guardian reads equal the reservation rule applied to the
approvals, orders and fills, after every step of a mix of approvals, orders, fills, projected
fills, cancels, the time limits and crashes between steps, and with releases committing
while the guardian decides.

The rule is spelled out here (``RULE``) as a scan of every approval of the day, which is how
the guardian read it before the running totals; the totals must never differ from it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kairos.risk import exposure, guardian, limits
from kairos.runtime.db import migrate
from kairos_testkit import risk as rk

D = Decimal
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
FINAL = ("FILLED", "CANCELED", "REJECTED", "EXPIRED")

# An approval of an increasing order reserves its notional until its order is final and every
# fill of it is in the positions projection; without an order, for the TTL; never after a day.
RULE = """
SELECT s.scope, a.venue, a.symbol, sum(a.quantity * a.price), count(*), count(*) FILTER (WHERE a.opens_position)
FROM risk_approvals a LEFT JOIN orders o ON o.command_id = a.command_id,
     unnest(ARRAY['global', 'account:' || a.account, 'strategy:' || a.strategy_id]) s(scope)
WHERE a.increases AND a.decided_at > now() - interval '1 day' AND (
    (o.id IS NULL AND a.decided_at > now() - make_interval(secs => %(ttl)s))
    OR o.state NOT IN ('FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')
    OR EXISTS (SELECT 1 FROM fills f WHERE f.order_id = o.id AND NOT EXISTS (
        SELECT 1 FROM position_fills pf
        WHERE pf.account = f.account AND pf.venue = f.venue AND pf.venue_trade_id = f.venue_trade_id)))
GROUP BY 1, 2, 3
"""

SCOPES = ["global", "account:a1", "account:a2", "strategy:s1", "strategy:s2"]


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as c:
        for account in ("a1", "a2"):
            rk.ready(c, account=account, marks={BTC: D("50000"), ETH: D("2000")})
        yield c


def by_rule(conn: psycopg.Connection) -> dict[tuple[str, str, str], tuple[Decimal, int, int]]:
    rows = conn.execute(RULE, {"ttl": exposure.RESERVATION_TTL_S}).fetchall()
    return {(s, v, sym): (D(notional), n, opens) for s, v, sym, notional, n, opens in rows if s in SCOPES}


def by_totals(conn: psycopg.Connection) -> dict[tuple[str, str, str], tuple[Decimal, int, int]]:
    with conn.transaction():
        rows = conn.execute("SELECT * FROM risk_reserved_read(%s, %s)", (SCOPES, exposure.RESERVATION_TTL_S)).fetchall()
    return {(s, v, sym): (D(notional), n, opens) for s, v, sym, notional, n, opens in rows}


def check(conn: psycopg.Connection, expect_global: str | None = None) -> None:
    """Totals == rule; and, given, the global scope's total reserved notional."""
    rule, totals = by_rule(conn), by_totals(conn)
    assert totals == rule
    if expect_global is not None:
        held = sum((v[0] for k, v in totals.items() if k[0] == "global"), D(0))
        assert held == D(expect_global)


def approve(conn: psycopg.Connection, n: int, account: str, strategy: str, symbol: str, qty: str,
            ago_s: float = 0) -> str:  # fmt: skip
    """An approval the way the guardian writes it (``ago_s``: decided that long ago)."""
    cmd = f"cmd-{n}"
    price = D("50000") if symbol == BTC else D("2000")
    conn.execute(
        "INSERT INTO risk_approvals (command_id, intent_id, account, venue, symbol, strategy_id, side, quantity,"
        " price, increases, opens_position, decided_at)"
        " VALUES (%s, %s, %s, 'binanceusdm', %s, %s, 'buy', %s, %s, true, true, now() - make_interval(secs => %s))",
        (cmd, f"in-{n}", account, symbol, strategy, D(qty), price, ago_s),
    )
    return cmd


PATH = {"NEW": [], "SUBMITTED": ["SUBMITTED"], "OPEN": ["SUBMITTED", "OPEN"], "REJECTED": ["REJECTED"]}


def order(conn: psycopg.Connection, cmd: str, state: str = "NEW") -> int:
    """The executor's order for ``cmd`` (inserted NEW, then moved to ``state`` as it would be)."""
    a = conn.execute("SELECT account, symbol, strategy_id, quantity FROM risk_approvals WHERE command_id = %s",
                     (cmd,)).fetchone()  # fmt: skip
    assert a is not None
    r = conn.execute(
        "INSERT INTO orders (command_id, client_order_id, account, venue, mode, symbol, side, order_type, quantity,"
        " intent, strategy_id, command_event, state) VALUES (%s, %s, %s, 'binanceusdm', 'live', %s, 'buy', 'market',"
        " %s, 'entry', %s, '{}', 'NEW') RETURNING id",
        (cmd, f"c-{cmd}", a[0], a[1], a[3], a[2]),
    ).fetchone()
    assert r is not None
    for step in PATH[state]:
        set_state(conn, int(r[0]), step)
    return int(r[0])


def set_state(conn: psycopg.Connection, order_id: int, state: str) -> None:
    conn.execute("UPDATE orders SET state = %s WHERE id = %s", (state, order_id))


def fill(conn: psycopg.Connection, order_id: int, trade: str, qty: str) -> None:
    conn.execute(
        "INSERT INTO fills (order_id, account, venue, venue_trade_id, quantity, price, traded_at)"
        " SELECT id, account, venue, %s, %s, 50000, now() FROM orders WHERE id = %s",
        (trade, D(qty), order_id),
    )


def project(conn: psycopg.Connection, trade: str) -> None:
    """The positions projection folding the fill in (its position row first if it has none)."""
    f = conn.execute(
        "SELECT f.account, o.symbol, o.strategy_id FROM fills f JOIN orders o ON o.id = f.order_id"
        " WHERE f.venue_trade_id = %s",
        (trade,),
    ).fetchone()
    assert f is not None
    pos = f"pos-{f[0]}-{f[1]}"
    conn.execute(
        "INSERT INTO positions (position_id, account, venue, symbol, side, status, quantity, peak_quantity,"
        " entry_price, opened_at, updated_at, strategy_id, mode, revision, projection)"
        " VALUES (%s, %s, 'binanceusdm', %s, 'LONG', 'OPEN', 1, 1, 50000, now(), now(), %s, 'LIVE', 1, '{}')"
        " ON CONFLICT DO NOTHING",
        (pos, f[0], f[1], f[2]),
    )
    conn.execute(
        "INSERT INTO position_fills (account, venue, venue_trade_id, position_id, fill)"
        " VALUES (%s, 'binanceusdm', %s, %s, '{}')",
        (f[0], trade, pos),
    )


def crash(database_url: str, conn: psycopg.Connection, steps: Any) -> None:
    """Run ``steps(c)`` in a transaction on another connection and kill its backend before the
    commit (a process dying between two steps)."""
    c = psycopg.connect(database_url)
    pid = c.info.backend_pid
    steps(c)  # psycopg opened the transaction: nothing is committed
    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        c.execute("COMMIT")
    c.close()


def test_totals_follow_the_rule_through_approvals_orders_fills_cancels_expiry_and_crashes(
    database_url: str, conn: psycopg.Connection
) -> None:
    check(conn, "0")
    # approvals: the guardian's own and three written as it writes them
    d = guardian.Guardian().decide(conn, rk.intent(n=1, account="a1", strategy_id="s1", quantity="0.010"))
    assert d.approved
    c1 = approve(conn, 2, "a1", "s1", BTC, "0.020")  # 1000
    c2 = approve(conn, 3, "a1", "s2", ETH, "1")  # 2000
    c3 = approve(conn, 4, "a2", "s1", BTC, "0.010")  # 500
    check(conn, "4000")  # 500 (the guardian's) + 1000 + 2000 + 500

    # c1: an order, partly filled, the fill projected: still reserving (the order is not final)
    o1 = order(conn, c1, "SUBMITTED")
    fill(conn, o1, "t1", "0.010")
    set_state(conn, o1, "PARTIALLY_FILLED")
    check(conn, "4000")
    project(conn, "t1")
    check(conn, "4000")
    # filled, the last fill recorded after the state and not yet projected: reserving; projected: released
    with conn.transaction():
        set_state(conn, o1, "FILLED")
        fill(conn, o1, "t2", "0.010")
    check(conn, "4000")
    # a crash between the projection's steps changes nothing
    crash(database_url, conn, lambda c: project(c, "t2"))
    check(conn, "4000")
    project(conn, "t2")
    check(conn, "3000")

    # c2: an order canceled without a fill: released; a crash before its commit: still reserving
    o2 = order(conn, c2, "OPEN")
    crash(database_url, conn, lambda c: set_state(c, o2, "CANCELED"))
    check(conn, "3000")
    set_state(conn, o2, "CANCELED")
    check(conn, "1000")

    # c3: an order rejected by the venue after a crash of the executor mid-transaction
    crash(database_url, conn, lambda c: order(c, c3, "REJECTED"))
    check(conn, "1000")
    order(conn, c3, "REJECTED")
    check(conn, "500")

    # without an order past the TTL: released; its order arriving later reserves again
    late = approve(conn, 5, "a2", "s2", ETH, "2", ago_s=exposure.RESERVATION_TTL_S + 5)  # 4000
    check(conn, "500")
    o5 = order(conn, late, "SUBMITTED")
    check(conn, "4500")
    set_state(conn, o5, "EXPIRED")
    check(conn, "500")
    # a day old: never reserves, whatever its order; an open order's reservation ends at a day
    old = approve(conn, 6, "a1", "s1", BTC, "0.010", ago_s=86400 + 5)
    order(conn, old, "OPEN")
    check(conn, "500")
    aging = approve(conn, 8, "a1", "s2", BTC, "0.010", ago_s=86400 - 1.5)
    order(conn, aging, "OPEN")
    # an order made (still NEW) just before the TTL: the TTL no longer applies to it
    soon = approve(conn, 9, "a2", "s1", ETH, "1", ago_s=exposure.RESERVATION_TTL_S - 1.5)  # 2000
    order(conn, soon)
    check(conn, "3000")
    time.sleep(2)
    check(conn, "2500")
    # a crash inside a guardian decision leaves no reservation
    crash(database_url, conn, lambda c: guardian.Guardian().decide(c, rk.intent(n=7, account="a2", strategy_id="s2")))
    check(conn, "2500")

    # the rebuild from the approvals, orders and fills finds the same totals
    before = by_totals(conn)
    conn.execute("SELECT risk_reservations_rebuild()")
    assert by_totals(conn) == before == by_rule(conn)


def test_releases_committing_while_the_guardian_decides_are_counted_once(
    database_url: str, conn: psycopg.Connection
) -> None:
    """Orders of two fills each, filled; the two fills of an order folded into positions by two
    connections at the same instant (each alone would see the other's fill unprojected), while
    the guardian decides (and folds the journal) on others: the totals stay equal to the rule."""
    limits.set_limit(conn, "global", "*", "max_symbol_exposure", D("1000000"), actor="test", reason="race")
    cmds = [approve(conn, 100 + i, f"a{1 + i % 2}", "s1", BTC, "0.020") for i in range(12)]
    for i, c in enumerate(cmds):
        with conn.transaction():
            o = order(conn, c, "OPEN")
            fill(conn, o, f"r{i}a", "0.010")
            fill(conn, o, f"r{i}b", "0.010")
            set_state(conn, o, "FILLED")
    check(conn, "12000")
    errors: list[BaseException] = []
    approved: list[bool] = []
    barrier = threading.Barrier(24 + 6)

    def fold(trade: str) -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as c:
                barrier.wait()
                with c.transaction():
                    project(c, trade)
        except BaseException as e:  # reported below
            errors.append(e)

    def decide(i: int) -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as c:
                barrier.wait()
                with c.transaction():
                    it = rk.intent(n=200 + i, account=f"a{1 + i % 2}", strategy_id="s2", quantity="0.010")
                    approved.append(guardian.Guardian().decide(c, it).approved)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=fold, args=(f"r{i}{x}",)) for i in range(12) for x in "ab"]
    threads += [threading.Thread(target=decide, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert approved == [True] * 6
    check(conn, "3000")  # the 12 filled orders released, the 6 new approvals of 500 reserve


RATE_RULE = """
SELECT s.scope, count(*) FROM risk_approvals a,
       unnest(ARRAY['global', 'account:' || a.account, 'strategy:' || a.strategy_id]) s(scope)
WHERE a.decided_at > now() - interval '60 seconds' GROUP BY 1
"""


def rates(conn: psycopg.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """(by the per-second counters, by counting every approval of the minute), at one instant."""
    with conn.transaction():
        counted = {s: int(n) for s, n in conn.execute("SELECT * FROM risk_rate_read(%s, 60)", (SCOPES,)).fetchall()}
        rule = {s: int(n) for s, n in conn.execute(RATE_RULE).fetchall() if s in SCOPES}
    return {s: n for s, n in counted.items() if n}, rule


def test_orders_of_the_last_minute_from_the_counters_equal_the_count(conn: psycopg.Connection) -> None:
    """Approvals spread over the last minutes (some in the second the window cuts), as time
    passes, after a deletion and after a TRUNCATE: the counters give the exact count."""
    ago = [0, 0.2, 10.5, 30, 58.7, 59.4, 59.6, 59.8, 60.3, 61, 90, 200]
    for i, a in enumerate(ago):
        approve(conn, 300 + i, f"a{1 + i % 2}", f"s{1 + i % 3 // 2}", BTC, "0.001", ago_s=a)
    guardian.Guardian().decide(conn, rk.intent(n=9, account="a2", strategy_id="s2"))
    counted, rule = rates(conn)
    assert counted == rule and rule["global"] == 9
    for _ in range(4):  # the window moves over the approvals near its start
        time.sleep(0.3)
        counted, rule = rates(conn)
        assert counted == rule
    conn.execute("DELETE FROM risk_approvals WHERE command_id = 'cmd-301'")
    counted, rule = rates(conn)
    assert counted == rule
    conn.execute("TRUNCATE risk_approvals")
    assert rates(conn) == ({}, {})


def test_a_decision_folds_its_scopes_without_limits_too(conn: psycopg.Connection) -> None:
    """Only the account has limits, so the guardian reads no global or strategy book; it still
    folds their reservation deltas, which would otherwise pile up in the journal forever."""
    limits.set_limit(conn, "account", "a1", "max_symbol_exposure", D("1000000"), actor="test", reason="fold")
    for i in range(20):
        with conn.transaction():
            assert guardian.Guardian().decide(conn, rk.intent(n=400 + i, account="a1", strategy_id="s1")).approved
    pending = conn.execute("SELECT scope, count(*) FROM risk_reserved_journal GROUP BY 1 ORDER BY 1").fetchall()
    assert pending == [("account:a1", 1), ("global", 1), ("strategy:s1", 1)]  # the last approval's, folded next time
    check(conn, "10000")


def test_first_seen_scopes_locked_at_once_never_deadlock(database_url: str, conn: psycopg.Connection) -> None:
    """Decisions for scopes seen for the first time, all at once: each round, new accounts
    sharing a new strategy (as the very first decisions share the new global row). The rows of
    new scopes are made before any lock is held, so no decision waits for another's new row
    while holding a shared one that the other waits for (a deadlock: one of them failed)."""
    errors: list[BaseException] = []
    for rnd in range(40):
        barrier = threading.Barrier(10)

        def one(i: int, rnd: int = rnd, barrier: threading.Barrier = barrier) -> None:
            try:
                with psycopg.connect(database_url, autocommit=True) as c:
                    barrier.wait()
                    with c.transaction():
                        guardian.lock_scopes(c, [("account", f"new-{rnd}-{i % 3}"), ("strategy", f"shared-{rnd}")])
                        time.sleep(0.002)
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
