"""risk-guardian as the platform runs it (real Postgres and broker): an intent becomes a trade
command or a rejection on the right topics; a redelivered intent decides nothing twice; a
daily-loss breach seen on a fill engages the kill switch while a stop-loss still passes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import new_event
from kairos.contracts.execution import OrderFill
from kairos.portfolio import ledger
from kairos.risk import codes, limits
from kairos.runtime.db import migrate
from kairos_testkit import risk as rk
from kairos_testkit.events import ping_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics

NAME = "risk-guardian"
ACCT = "acct-risk"
SYM = "BTC/USDT:USDT"


def outbox(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT topic, event_type FROM outbox WHERE producer = %s ORDER BY id", (NAME,)
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_intents_become_commands_or_rejections(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        rk.ready(conn, account=ACCT)
        limits.set_limit(conn, "account", ACCT, "max_order_quantity", Decimal("1"), actor="t", reason="t")
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        ok = new_event(rk.intent(n=1), source="/tests", partition_key=f"{ACCT}|{SYM}")
        assert fn.process(to_cloudevent(ok)).status == 204
        assert fn.process(to_cloudevent(ok)).status == 204  # redelivered: no second effect
        big = new_event(rk.intent(n=2, quantity="2"), source="/tests", partition_key=f"{ACCT}|{SYM}")
        assert fn.process(to_cloudevent(big)).status == 204
    assert outbox(database_url) == [
        ("cmd.execute_trade", "kairos.cmd.execute_trade"),
        ("risk.rejected", "kairos.risk.rejected"),
        ("risk.alert", "kairos.risk.alert"),
    ]


def test_daily_loss_breach_engages_the_kill_switch_and_a_stop_loss_still_passes(
    database_url: str, kafka_bootstrap: str
) -> None:
    create_topics(kafka_bootstrap)
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        rk.ready(conn, account=ACCT, marks={SYM: Decimal("50000")})
        limits.set_limit(conn, "account", ACCT, "max_daily_loss", Decimal("100"), actor="t", reason="t")
    now = datetime.now(UTC)
    fills = [  # bought 1 at 50,000, sold 1 at 49,900: 100 lost today, the limit reached
        OrderFill(command_id="c-buy-00001", client_order_id="x1", account=ACCT, venue="binanceusdm", symbol=SYM,
                  side="buy", venue_trade_id="t1", quantity=Decimal("1"), price=Decimal("50000"), traded_at=now,
                  mode="live"),
        OrderFill(command_id="c-sell-0001", client_order_id="x2", account=ACCT, venue="binanceusdm", symbol=SYM,
                  side="sell", venue_trade_id="t2", quantity=Decimal("1"), price=Decimal("49900"), traded_at=now,
                  mode="live"),
    ]  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        for f in fills:
            with conn.transaction():
                ledger.apply_fill(conn, f)
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        fill_event = new_event(fills[1], source="/tests", partition_key=f"{ACCT}|{SYM}")
        assert fn.process(to_cloudevent(fill_event)).status == 204
        with psycopg.connect(database_url) as conn:
            assert [s[:2] for s in limits.engaged_switches(conn)] == [("account", ACCT)]
        assert ("risk.alert", "kairos.risk.alert") in outbox(database_url)
        entry = new_event(rk.intent(n=3), source="/tests", partition_key=f"{ACCT}|{SYM}")
        assert fn.process(to_cloudevent(entry)).status == 204
        stop = new_event(rk.intent(n=4, side="sell", kind="exit"), source="/tests", partition_key=f"{ACCT}|{SYM}")
        assert fn.process(to_cloudevent(stop)).status == 204
        tick = ping_event("/tests/cron/risk-guardian", datetime.now(UTC), {"job": "risk-watch"})
        assert fn.process(tick).status == 204
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT outcome, reason_code FROM risk_decisions ORDER BY decided_at").fetchall()
    assert rows == [("rejected", codes.KILL_SWITCH), ("approved", None)]
