"""Portfolio accounting against hand-computed cases: long and short, partial closes, fees, a
flip from long to short, funding; exec.fill folded once (a redelivery changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from kairos.contracts.execution import OrderFill
from kairos.portfolio import ledger
from kairos.portfolio.pnl import Holding, apply_fill, apply_funding, settle_asset
from kairos.runtime.db import migrate

D = Decimal


def test_long_partial_closes_with_fees() -> None:
    h, r = apply_fill(Holding(), "buy", D("2"), D("100"), D("0.2"))  # long 2 @ 100, fee 0.2
    assert (h.quantity, h.avg_price, r) == (D("2"), D("100"), D("0"))
    h, r = apply_fill(h, "buy", D("1"), D("130"), D("0.13"))  # avg (200 + 130) / 3 = 110
    assert (h.quantity, h.avg_price) == (D("3"), D("110"))
    h, r = apply_fill(h, "sell", D("1"), D("120"), D("0.12"))  # 1 x (120 - 110) = 10
    assert (r, h.quantity, h.avg_price) == (D("10"), D("2"), D("110"))
    h, r = apply_fill(h, "sell", D("2"), D("105"), D("0.21"))  # 2 x (105 - 110) = -10
    assert (r, h.quantity) == (D("-10"), D("0"))
    assert h.realized_pnl == D("0") and h.fees == D("0.66") and h.net_realized == D("-0.66")


def test_short_gains_when_the_price_falls() -> None:
    h, _ = apply_fill(Holding(), "sell", D("0.5"), D("2000"))
    assert h.quantity == D("-0.5") and h.unrealized(D("1900")) == D("50.0")
    h, r = apply_fill(h, "buy", D("0.2"), D("1800"))  # 0.2 x (2000 - 1800) = 40
    assert (r, h.quantity, h.avg_price) == (D("40.0"), D("-0.3"), D("2000"))


def test_flip_from_long_to_short_realizes_the_long_and_opens_the_rest_at_the_fill_price() -> None:
    h, _ = apply_fill(Holding(), "buy", D("1"), D("100"))
    h, r = apply_fill(h, "sell", D("3"), D("90"), D("0.27"))  # closes 1: -10, opens short 2 @ 90
    assert (r, h.quantity, h.avg_price, h.fees) == (D("-10"), D("-2"), D("90"), D("0.27"))
    assert h.unrealized(D("80")) == D("20")


def test_funding_is_part_of_net_realized() -> None:
    h, _ = apply_fill(Holding(), "buy", D("1"), D("100"), D("0.1"))
    h = apply_funding(apply_funding(h, D("-0.05")), D("0.02"))
    assert h.net_realized == D("-0.13")
    assert settle_asset("BTC/USDT:USDT") == "USDT" and settle_asset("ETH/BTC") == "BTC"


@pytest.fixture
def conn(database_url: str):  # type: ignore[no-untyped-def]
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as c:
        yield c


def fill(n: int, side: str, qty: str, price: str, fee: str = "0", at: datetime | None = None) -> OrderFill:
    return OrderFill(command_id=f"cmd-{n:08d}", client_order_id=f"c{n}", account="a1", venue="binanceusdm",
                     symbol="ETH/USDT:USDT", side=side, venue_trade_id=f"t{n}", quantity=D(qty), price=D(price),  # type: ignore[arg-type]
                     fee=D(fee), fee_asset="USDT", traded_at=at or datetime.now(UTC), mode="live")  # fmt: skip


def test_ledger_balances_pnl_and_redelivery(conn: psycopg.Connection) -> None:
    ledger.record_opening(conn, "a1", "binanceusdm", "USDT", D("1000"), datetime.now(UTC))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with conn.transaction():
        assert ledger.apply_fill(conn, fill(1, "buy", "1", "2000", "0.8", at=yesterday))
    with conn.transaction():
        assert ledger.apply_fill(conn, fill(2, "sell", "0.4", "2100", "0.336"))  # +40 today
    with conn.transaction():
        assert not ledger.apply_fill(conn, fill(2, "sell", "0.4", "2100", "0.336"))  # redelivered: nothing
    with conn.transaction():
        ledger.apply_funding(conn, "a1", "binanceusdm", "ETH/USDT:USDT", D("-0.5"), "f-1", datetime.now(UTC))
        assert not ledger.apply_funding(conn, "a1", "binanceusdm", "ETH/USDT:USDT", D("-0.5"), "f-1", datetime.now(UTC))
    [bal] = ledger.balances(conn, "a1")
    assert bal.amount == D("1000") - D("0.8") + D("40") - D("0.336") - D("0.5")  # 1038.364
    conn.execute("INSERT INTO mark_prices VALUES ('binanceusdm', 'ETH/USDT:USDT', 1950, now())")
    [h] = ledger.holdings(conn, "a1")
    assert (h.quantity, h.avg_price, h.unrealized) == (D("0.6"), D("2000"), D("-30.0"))
    assert h.mark_as_of is not None and h.as_of is not None
    day = ledger.daily_pnl(conn, account="a1")
    assert day.realized == D("40") - D("0.336") - D("0.5") and day.unrealized == D("-30.0")  # yesterday's fee not in
    s = ledger.summary(conn, "a1")
    assert s["equity"] == bal.amount + D("-30.0")
    slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert ledger.snapshot(conn, slot) == 1 and ledger.snapshot(conn, slot) == 0
