"""Funding settled by the venue reaches the ledger through the reconciler's tick: applied once
(by the venue's payment id), counted in realized PnL, and never raised as BALANCE_DRIFT."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kairos.portfolio import ledger
from kairos.venue_sim.venue import AccountSeed
from kairos_testkit.execution import ACCOUNT, VENUE_SYMBOL
from kairos_testkit.protection_system import system
from kairos_testkit.venue_sim import running_venue_sim

from tests.portfolio.conftest import API_KEY, SECRET

INTERVAL_MS = 60_000
RATE = Decimal("0.001")


@pytest.fixture
def funding_sim() -> Iterator[Any]:
    """A venue settling funding every minute whose market clock runs two minutes ahead of the
    wall clock, 5 ticks before a funding time (payments land after the opening balance)."""
    boundary = (int(time.time() * 1000) + 120_000) // INTERVAL_MS * INTERVAL_MS + INTERVAL_MS
    with running_venue_sim(
        seed=3, accounts=[AccountSeed(API_KEY, SECRET, Decimal("5000000"))], warmup_ticks=5,
        start_ms=boundary - 5_000, funding_rate=RATE, funding_interval_ms=INTERVAL_MS,
    ) as s:  # fmt: skip
        s.control.set_price(VENUE_SYMBOL, "60000")
        yield s


def venue_wallet(sim: Any) -> Decimal:
    assets = sim.ccxt().fetch_balance()["info"]["assets"]
    return Decimal(next(a["walletBalance"] for a in assets if a["asset"] == "USDT"))


def test_venue_funding_is_applied_once_and_is_not_drift(database_url, kafka_bootstrap, funding_sim) -> None:
    sim = funding_sim
    with system(database_url, kafka_bootstrap, sim, protection={}) as s:
        s.tick("reconciler")  # opening balance
        s.enter("0.010")
        s.settle()
        sim.control.step(ticks=6)  # crosses the funding time: the long pays 0.010 x 60000 x 0.001
        [payment] = sim.ccxt().fetch_funding_history()
        assert Decimal(payment["info"]["income"]) == Decimal("-0.6")
        s.tick("reconciler")
        s.tick("reconciler")  # read again: nothing applied twice
        with psycopg.connect(database_url) as conn:
            [usdt] = [b for b in ledger.balances(conn, ACCOUNT) if b.asset == "USDT"]
            [held] = ledger.holdings(conn, ACCOUNT)
            rows = conn.execute(
                "SELECT amount, source_id FROM portfolio_ledger WHERE account = %s AND kind = 'funding'", (ACCOUNT,)
            ).fetchall()
            daily = ledger.daily_pnl(conn, account=ACCOUNT)
        assert rows == [(Decimal("-0.6"), str(payment["info"]["tranId"]))]
        assert held.realized_net == -held.fees - Decimal("0.6")  # realized PnL: fees and funding
        assert usdt.amount == venue_wallet(sim)
        assert daily.realized == -held.fees - Decimal("0.6")
        assert [a for a in s.outbox("kairos.ops.alert") if a["code"] == "BALANCE_DRIFT"] == []
