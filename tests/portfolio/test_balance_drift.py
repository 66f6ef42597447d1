"""Balances reconciled with the simulator every reconciler tick: the ledger kept from fills and
fees equals the venue's wallet after a round trip, and money the ledger does not explain is
raised as BALANCE_DRIFT."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from kairos.contracts.codec import to_cloudevent
from kairos.portfolio import ledger
from kairos_testkit.execution import ACCOUNT, command
from kairos_testkit.protection_system import system


def venue_wallet(sim) -> Decimal:  # type: ignore[no-untyped-def]
    assets = sim.ccxt().fetch_balance()["info"]["assets"]
    return Decimal(next(a["walletBalance"] for a in assets if a["asset"] == "USDT"))


def drifts(s) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [a for a in s.outbox("kairos.ops.alert") if a["code"] == "BALANCE_DRIFT"]


def test_ledger_follows_the_venue_wallet_and_drift_is_raised(database_url, kafka_bootstrap, sim) -> None:
    with system(database_url, kafka_bootstrap, sim, protection={}) as s:
        s.tick("reconciler")  # first sight: the opening balance is the venue's wallet
        start = venue_wallet(sim)
        s.enter("0.010")
        s.settle()
        sim.control.set_price("BTCUSDT", "60600")
        close = command(side="sell", quantity="0.010", intent="exit", reduce_only=True)
        s.deliver("executor", to_cloudevent(close))
        s.settle()
        with psycopg.connect(database_url) as conn:
            [usdt] = [b for b in ledger.balances(conn, ACCOUNT) if b.asset == "USDT"]
            [held] = ledger.holdings(conn, ACCOUNT)
        wallet = venue_wallet(sim)
        assert wallet != start  # PnL and fees moved it
        assert usdt.amount == wallet and held.quantity == 0
        assert drifts(s) == []
        with psycopg.connect(database_url, autocommit=True) as conn:  # 5 USDT the venue never saw
            conn.execute(
                "INSERT INTO portfolio_ledger (account, venue, asset, kind, amount, source_id, at)"
                " VALUES (%s, 'binanceusdm', 'USDT', 'adjustment', 5, 'wrong-transfer', %s)",
                (ACCOUNT, datetime.now(UTC)),
            )
        s.tick("reconciler")
        [drift] = drifts(s)
        assert Decimal(drift["details"]["drift"]) == Decimal("-5") and drift["details"]["asset"] == "USDT"
