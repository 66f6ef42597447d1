"""Funding payments are read from the venue page by page (GET /fapi/v1/income, by startTime and
limit, through ccxt against the simulator): more than a page is never lost, payments of two
symbols settled in the same millisecond across a page boundary are both applied, each once,
and a read that fails or dies between pages loses and doubles nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kairos.portfolio import funding, ledger
from kairos.portfolio.reconcile_tick import PositionsRead, check_balances
from kairos.venue_sim.venue import AccountSeed
from kairos.venues.port import VenueError
from kairos_testkit.execution import ACCOUNT, runtime, setup_account
from kairos_testkit.venue_sim import BTC, ETH, START_MS, running_venue_sim

from tests.portfolio.conftest import API_KEY, SECRET

VENUE = "binanceusdm"
PAGE = 5
TICKS = 12  # two positions settle every tick (funding every second): 24 payments, in pairs
INCOME_FAILS_AFTER_2 = {"kind": "http_error", "endpoint": "GET /fapi/v1/income", "status": 503, "after": 2, "count": 1}


@pytest.fixture
def sim() -> Iterator[Any]:
    with running_venue_sim(
        seed=3, accounts=[AccountSeed(API_KEY, SECRET, Decimal("5000000"))], warmup_ticks=0,
        start_ms=START_MS + 500, funding_rate=Decimal("0.0001"), funding_interval_ms=1000,
    ) as s:  # fmt: skip
        s.control.set_price("BTCUSDT", "60000")
        s.control.set_price("ETHUSDT", "3000")
        ex = s.ccxt()
        ex.create_order(BTC, "market", "buy", 0.01)
        ex.create_order(ETH, "market", "sell", 0.1)
        s.control.step(ticks=TICKS)
        yield s


@pytest.fixture
def adapter(database_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(funding, "PAGE_SIZE", PAGE)  # the page size setting: pages of 5
    setup_account(database_url, sim)
    with psycopg.connect(database_url) as conn:  # the opening balance, before every payment
        ledger.record_opening(conn, ACCOUNT, VENUE, "USDT", Decimal("5000000"), datetime(2025, 1, 1, tzinfo=UTC))
    with runtime(database_url) as rt:
        yield rt.service.book.get(ACCOUNT)[1]


def venue_payments(sim: Any) -> dict[str, Decimal]:
    """Every payment at the venue, read in one request (fewer than 1,000)."""
    rows = sim.ccxt().fetch_funding_history(None, 0, 1000)
    return {str(r["info"]["tranId"]): Decimal(r["info"]["income"]) for r in rows}


def ledger_payments(database_url: str) -> list[tuple[str, Decimal]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT source_id, amount FROM portfolio_ledger WHERE account = %s AND kind = 'funding' ORDER BY id",
            (ACCOUNT,),
        ).fetchall()
    return [(str(r[0]), Decimal(r[1])) for r in rows]


def income_requests(sim: Any) -> list[dict[str, Any]]:
    return [r for r in sim.control.audit() if r["path"] == "/fapi/v1/income"]


def test_more_than_a_page_of_payments_is_read_page_by_page_and_applied_once(sim, adapter, database_url):
    paid = venue_payments(sim)
    assert len(paid) == 2 * TICKS
    with psycopg.connect(database_url) as conn:
        assert funding.sync(conn, ACCOUNT, VENUE, adapter) == 2 * TICKS
    applied = ledger_payments(database_url)
    assert dict(applied) == paid and len(applied) == len(paid)  # all of them, each once
    assert len(income_requests(sim)) >= (2 * TICKS) // PAGE + 1  # one request per page
    with psycopg.connect(database_url) as conn:  # the next read starts at the newest: nothing new
        assert funding.sync(conn, ACCOUNT, VENUE, adapter) == 0
    assert len(ledger_payments(database_url)) == 2 * TICKS


def test_a_read_failing_between_pages_keeps_its_pages_and_the_next_tick_reads_the_rest(sim, adapter, database_url):
    paid = venue_payments(sim)
    sim.control.set_faults([INCOME_FAILS_AFTER_2])  # the third page does not come
    read = PositionsRead(ACCOUNT, VENUE, datetime.now(UTC), [])
    with psycopg.connect(database_url) as conn:
        assert check_balances(conn, read, adapter) == []  # compared nothing this tick
    kept = ledger_payments(database_url)
    assert 0 < len(kept) < len(paid)  # the two pages read before the failure were applied
    sim.control.clear_faults()
    with psycopg.connect(database_url) as conn:
        check_balances(conn, read, adapter)
    applied = ledger_payments(database_url)
    assert dict(applied) == paid and len(applied) == len(paid)


def test_a_process_dying_between_pages_applied_nothing_and_the_next_read_applies_all(sim, adapter, database_url):
    paid = venue_payments(sim)
    sim.control.set_faults([INCOME_FAILS_AFTER_2])
    conn = psycopg.connect(database_url)
    with pytest.raises(VenueError):
        funding.sync(conn, ACCOUNT, VENUE, adapter)
    conn.close()  # dies before its transaction commits
    assert ledger_payments(database_url) == []
    sim.control.clear_faults()
    with psycopg.connect(database_url) as conn:
        assert funding.sync(conn, ACCOUNT, VENUE, adapter) == len(paid)
    assert dict(ledger_payments(database_url)) == paid
