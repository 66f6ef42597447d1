"""risk-guardian watching prices: a norm.ticker of a held symbol re-reads the daily-loss limit at
the new mark (80 %: MEDIUM; breach: kill switch engaged, CRITICAL) without waiting for the
minute's tick; a ticker of a symbol nobody holds changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from cloudevents.core.v1.event import CloudEvent
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import new_event
from kairos.contracts.execution import OrderFill
from kairos.contracts.market_data import Ticker
from kairos.portfolio import ledger
from kairos.risk import limits
from kairos.runtime.db import migrate
from kairos_testkit import risk as rk
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics

NAME = "risk-guardian"
ACCT = "acct-watch"
SYM, OTHER = "BTC/USDT:USDT", "ETH/USDT:USDT"


def alerts(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT value FROM outbox WHERE producer = %s AND topic = 'risk.alert' ORDER BY id", (NAME,)
        ).fetchall()
    out = []
    for (value,) in rows:
        body = json.loads(bytes(value))
        data = body.get("data", body)
        out.append((data["severity"], data["code"]))
    return out


def ticker(symbol: str, price: str) -> CloudEvent:
    data = Ticker(venue="binanceusdm", symbol=symbol, price=Decimal(price), mark=Decimal(price),
                  exchange_time=datetime.now(UTC))  # fmt: skip
    return to_cloudevent(new_event(data, source="/tests/normalize-tickers", partition_key=f"binanceusdm|{symbol}"))


def test_a_price_move_raises_the_daily_loss_alerts_and_engages_the_kill_switch(
    database_url: str, kafka_bootstrap: str
) -> None:
    create_topics(kafka_bootstrap)
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        rk.ready(conn, account=ACCT, marks={SYM: Decimal("50000"), OTHER: Decimal("3000")})
        limits.set_limit(conn, "account", ACCT, "max_daily_loss", Decimal("100"), actor="t", reason="t")
        with conn.transaction():  # long 1 BTC at 50,000
            ledger.apply_fill(conn, OrderFill(
                command_id="c-buy-00001", client_order_id="x1", account=ACCT, venue="binanceusdm", symbol=SYM,
                side="buy", venue_trade_id="t1", quantity=Decimal("1"), price=Decimal("50000"),
                traded_at=datetime.now(UTC), mode="live",
            ))  # fmt: skip
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        with psycopg.connect(database_url, autocommit=True) as conn:
            rk.set_mark(conn, SYM, Decimal("49915"))  # what normalize-tickers stores with the ticker
        assert fn.process(ticker(SYM, "49915")).status == 204  # 85 lost: 85 % of the limit
        assert alerts(database_url) == [("MEDIUM", "LIMIT_NEAR")]
        with psycopg.connect(database_url, autocommit=True) as conn:
            rk.set_mark(conn, SYM, Decimal("49890"))
        assert fn.process(ticker(OTHER, "3001")).status == 204  # nobody holds ETH: nothing read
        with psycopg.connect(database_url) as conn:
            assert limits.engaged_switches(conn) == []
        assert fn.process(ticker(SYM, "49890")).status == 204  # 110 lost: breach
        with psycopg.connect(database_url) as conn:
            assert [s[:2] for s in limits.engaged_switches(conn)] == [("account", ACCT)]
    assert "CRITICAL" in [severity for severity, _code in alerts(database_url)]
