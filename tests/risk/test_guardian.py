"""The risk guardian's decision on the real Postgres: every limit at its boundary, hard
failures, kill switches, reductions always through, and decisions that serialise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest
from kairos.risk import codes, guardian, limits
from kairos.runtime.db import migrate
from kairos_testkit import risk as rk

ACCT = "acct-risk"
SYM = "BTC/USDT:USDT"
D = Decimal


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as c:
        rk.ready(c, account=ACCT, marks={SYM: D("50000"), "ETH/USDT:USDT": D("2000")})
        yield c


def decide(conn: psycopg.Connection, intent: object) -> guardian.Decision:
    with conn.transaction():
        return guardian.Guardian().decide(conn, intent)  # type: ignore[arg-type]


def set_limit(conn: psycopg.Connection, name: str, value: str, scope: tuple[str, str] = ("account", ACCT)) -> None:
    limits.set_limit(conn, scope[0], scope[1], name, D(value), actor="test", reason="boundary")


def open_position(conn: psycopg.Connection, qty: str, *, symbol: str = SYM, side: str = "LONG",
                  strategy: str = "strat-a", account: str = ACCT) -> None:
    conn.execute(
        "INSERT INTO positions (position_id, account, venue, symbol, side, status, quantity, peak_quantity,"
        " entry_price, opened_at, updated_at, strategy_id, mode, revision, projection)"
        " VALUES (%s, %s, 'binanceusdm', %s, %s, 'OPEN', %s, %s, 50000, now(), now(), %s, 'LIVE', 1, '{}')",
        (f"pos-{account}-{symbol}", account, symbol, side, D(qty), D(qty), strategy),
    )


def test_approval_writes_the_command_and_the_approval_the_executor_requires(conn: psycopg.Connection) -> None:
    it = rk.intent()
    d = decide(conn, it)
    assert d.approved and d.command is not None
    assert d.command.command_id == guardian.command_id(it) and d.command.intent == "entry"
    row = conn.execute("SELECT intent_id, quantity, price FROM risk_approvals WHERE command_id = %s",
                       (d.command.command_id,)).fetchone()  # fmt: skip
    assert row == (it.intent_id, D("0.010"), D("50000"))
    again = decide(conn, it)  # the same intent again (a replay): no second decision
    assert again.duplicate and again.command is None


@pytest.mark.parametrize(
    ("name", "at", "above", "qty_at", "qty_above"),
    [
        ("max_order_quantity", "0.010", "0.009", "0.010", "0.010"),
        ("max_order_notional", "500", "499.99", "0.010", "0.010"),  # 0.010 x 50,000 = 500
    ],
)
def test_order_size_limits_at_their_boundary(conn: psycopg.Connection, name: str, at: str, above: str,
                                             qty_at: str, qty_above: str) -> None:
    set_limit(conn, name, at)
    assert decide(conn, rk.intent(n=1, quantity=qty_at)).approved
    set_limit(conn, name, above)
    d = decide(conn, rk.intent(n=2, quantity=qty_above))
    assert not d.approved and d.rejection is not None
    assert d.rejection.reason_code == codes.LIMIT_CODES[name]
    assert d.rejection.limit == D(above) and d.rejection.scope_kind == "account"
    assert [a.severity for a in d.alerts] == ["HIGH"]


def test_symbol_exposure_counts_positions_and_reservations(conn: psycopg.Connection) -> None:
    open_position(conn, "0.010")  # 500 at the mark
    set_limit(conn, "max_symbol_exposure", "1500")
    first = decide(conn, rk.intent(n=1, quantity="0.010"))  # 500 + 500 = 1000: 67 %
    assert first.approved and first.alerts == []
    second = decide(conn, rk.intent(n=2, quantity="0.010"))  # 500 + 500 reserved + 500 = 1500: at the limit
    assert second.approved and [a.severity for a in second.alerts] == ["MEDIUM"]
    third = decide(conn, rk.intent(n=3, quantity="0.001"))  # 1550 > 1500
    assert third.rejection is not None and third.rejection.reason_code == codes.MAX_SYMBOL_EXPOSURE
    assert third.rejection.observed == D("1550.000")


def test_total_exposure_open_positions_and_rate(conn: psycopg.Connection) -> None:
    open_position(conn, "0.010")  # BTC 500
    set_limit(conn, "max_total_exposure", "700")
    assert decide(conn, rk.intent(n=1, symbol="ETH/USDT:USDT", quantity="0.1", price="2000")).approved  # 700
    r = decide(conn, rk.intent(n=2, symbol="ETH/USDT:USDT", quantity="0.001", price="2000"))
    assert r.rejection is not None and r.rejection.reason_code == codes.MAX_TOTAL_EXPOSURE
    set_limit(conn, "max_total_exposure", "1000000")
    set_limit(conn, "max_open_positions", "2")  # BTC held + ETH reserved = 2 open
    assert decide(conn, rk.intent(n=3, quantity="0.001")).approved  # BTC already open: no new position
    conn.execute("DELETE FROM mark_prices WHERE symbol = 'SOL/USDT:USDT'")
    rk.set_mark(conn, "SOL/USDT:USDT", D("100"))
    r = decide(conn, rk.intent(n=4, symbol="SOL/USDT:USDT", quantity="1", price="100"))
    assert r.rejection is not None and r.rejection.reason_code == codes.MAX_OPEN_POSITIONS
    assert r.rejection.observed == D(3) and r.rejection.limit == D(2)
    set_limit(conn, "max_orders_per_minute", "3", scope=("strategy", "strat-a"))  # 2 approved in the last minute
    assert decide(conn, rk.intent(n=5, quantity="0.001")).approved  # the 3rd: at the limit
    r = decide(conn, rk.intent(n=6, quantity="0.001"))
    assert r.rejection is not None and r.rejection.reason_code == codes.MAX_ORDERS_PER_MINUTE
    assert r.rejection.scope_kind == "strategy"


def test_global_limit_applies_to_every_account(conn: psycopg.Connection) -> None:
    set_limit(conn, "max_order_quantity", "0.5", scope=("global", "*"))
    r = decide(conn, rk.intent(quantity="0.6"))
    assert r.rejection is not None and (r.rejection.scope_kind, r.rejection.scope_id) == ("global", "*")


def test_hard_failures_reject(conn: psycopg.Connection) -> None:
    rk.set_mark(conn, SYM, D("50000"), age_s=31)  # the default max age is 30 s
    r = decide(conn, rk.intent(n=1))
    assert r.rejection is not None and r.rejection.reason_code == codes.PRICE_STALE
    rk.set_mark(conn, SYM, D("50000"), age_s=29)
    assert decide(conn, rk.intent(n=2)).approved
    r = decide(conn, rk.intent(n=3, symbol="DOGE/USDT:USDT"))
    assert r.rejection is not None and r.rejection.reason_code == codes.PRICE_UNKNOWN
    r = decide(conn, rk.intent(n=4, account="nobody"))
    assert r.rejection is not None and r.rejection.reason_code == codes.ACCOUNT_UNKNOWN
    conn.execute("UPDATE execution_health SET state = 'RECOVERING', updated_at = now()")
    r = decide(conn, rk.intent(n=5))
    assert r.rejection is not None and r.rejection.reason_code == codes.EXECUTOR_RECOVERING
    exit_ = decide(conn, rk.intent(n=6, side="sell", kind="exit"))  # reductions never blocked
    assert exit_.approved and exit_.command is not None and exit_.command.reduce_only
    conn.execute("DELETE FROM execution_health")
    r = decide(conn, rk.intent(n=7))
    assert r.rejection is not None and r.rejection.reason_code == codes.EXECUTOR_STATE_UNKNOWN
    rk.ready(conn, account=ACCT)
    conn.execute("INSERT INTO venue_clock VALUES (%s, 6000, 10, now())", (ACCT,))
    r = decide(conn, rk.intent(n=8))
    assert r.rejection is not None and r.rejection.reason_code == codes.CLOCK_DRIFT


def test_kill_switch_refuses_entries_never_exits(conn: psycopg.Connection) -> None:
    limits.engage(conn, "strategy", "strat-a", actor="test", reason="drill")
    r = decide(conn, rk.intent(n=1))
    assert r.rejection is not None and r.rejection.reason_code == codes.KILL_SWITCH
    assert decide(conn, rk.intent(n=2, strategy_id="strat-b")).approved
    assert decide(conn, rk.intent(n=3, side="sell", kind="exit")).approved
    limits.release(conn, "strategy", "strat-a", actor="test", reason="drill over")
    assert decide(conn, rk.intent(n=4)).approved


def test_limits_are_versioned_and_audited(conn: psycopg.Connection) -> None:
    assert limits.set_limit(conn, "account", ACCT, "max_order_quantity", D("1"), actor="ana", reason="start") == 1
    assert limits.set_limit(conn, "account", ACCT, "max_order_quantity", D("2"), actor="bo", reason="more") == 2
    assert [(x.value, x.version, x.set_by) for x in limits.current(conn)] == [(D("2"), 2, "bo")]
    limits.set_limit(conn, "account", ACCT, "max_order_quantity", None, actor="bo", reason="remove")
    assert limits.current(conn) == []
    assert len(limits.history(conn)) == 3
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE risk_limits SET value = 100")


def test_fifty_concurrent_intents_never_exceed_one_exposure_limit(database_url: str, conn: psycopg.Connection) -> None:
    set_limit(conn, "max_symbol_exposure", "10000")  # room for exactly 20 orders of 500
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def one(i: int) -> None:
        with psycopg.connect(database_url, autocommit=True) as c:
            barrier.wait()
            d = decide(c, rk.intent(n=i, quantity="0.010"))
            with lock:
                results.append(d.approved)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 20 and len(results) == 50
    total = conn.execute("SELECT sum(quantity * price) FROM risk_approvals").fetchone()
    assert total is not None and total[0] == D("10000")


def test_quantities_are_rounded_down_to_the_market_step(conn: psycopg.Connection) -> None:
    d = decide(conn, rk.intent(n=1, quantity="0.0109"))  # BTC steps of 0.001
    assert d.command is not None and d.command.quantity == D("0.010")
    r = decide(conn, rk.intent(n=2, quantity="0.0009"))
    assert r.rejection is not None and r.rejection.reason_code == codes.QUANTITY_BELOW_LOT
    assert decide(conn, rk.intent(n=3, quantity="0.0009", side="sell", kind="exit")).approved
