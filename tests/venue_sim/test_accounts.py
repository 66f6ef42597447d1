"""Multiple API keys are multiple isolated accounts; client-id reuse policy is configurable."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest
from kairos.venue_sim.venue import AccountSeed
from kairos_testkit.venue_sim import ETH, SOL, START_MS, VenueSimHandle, running_venue_sim


def test_accounts_see_only_their_own_orders_positions_and_balances(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.add_account("key-b", "secret-b", "2500")
    other = sim.ccxt(api_key="key-b", secret="secret-b")
    mine = ex.create_order(ETH, "limit", "buy", 0.1, 1000, params={"newClientOrderId": "same-id"})
    theirs = other.create_order(ETH, "limit", "buy", 0.1, 1000, params={"newClientOrderId": "same-id"})
    assert mine["id"] != theirs["id"]
    with pytest.raises(ccxt.OrderNotFound):
        other.fetch_order(mine["id"], ETH)
    other.create_order(SOL, "market", "buy", 1)
    assert ex.fetch_positions([SOL]) == []
    assert other.fetch_balance()["USDT"]["total"] < 2500 < ex.fetch_balance()["USDT"]["total"]
    assert [o["id"] for o in ex.fetch_open_orders(ETH)] == [mine["id"]]


def test_accounts_given_at_start_are_funded_with_their_balance() -> None:
    seeds = [AccountSeed("a", "sa", Decimal("1234.5")), AccountSeed("b", "sb")]
    with running_venue_sim(seed=2, accounts=seeds, warmup_ticks=5, start_ms=START_MS) as sim:
        assert sim.api_key == "a"
        assert sim.ccxt().fetch_balance()["USDT"]["total"] == 1234.5
        assert sim.ccxt(api_key="b", secret="sb").fetch_balance()["USDT"]["total"] == 100000


def test_client_order_id_of_a_closed_order_is_reusable_like_binance_by_default(sim: VenueSimHandle, ex: Any) -> None:
    ex.create_order(SOL, "market", "buy", 1, params={"newClientOrderId": "reuse-1"})
    again = ex.create_order(SOL, "market", "buy", 1, params={"newClientOrderId": "reuse-1"})
    assert again["status"] == "closed"
    assert ex.fetch_order(None, SOL, params={"origClientOrderId": "reuse-1"})["id"] == again["id"]


def test_client_order_ids_never_reusable_when_configured_so() -> None:
    with running_venue_sim(seed=2, unique_client_ids="all", warmup_ticks=5, start_ms=START_MS) as sim:
        ex = sim.ccxt()
        ex.create_order(SOL, "market", "buy", 1, params={"newClientOrderId": "once"})
        with pytest.raises(ccxt.InvalidOrder):
            ex.create_order(SOL, "market", "buy", 1, params={"newClientOrderId": "once"})
