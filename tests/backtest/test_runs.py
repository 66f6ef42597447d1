"""Stored runs: results, reports, re-runs checked against their inputs, bad requests leave nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from kairos.backtest import report, runner
from kairos.backtest.config import BacktestRequest, FillModel
from pydantic import ValidationError

from tests.backtest.conftest import BTC, ETH, START, create_strategy, sma_doc, store_candles, walk

END = START + timedelta(minutes=600)


def request(**changes: object) -> BacktestRequest:
    base: dict[str, object] = {"strategy_id": "sma-test", "start": START, "end": END, "balance": Decimal(10000)}
    base.update(changes)
    return BacktestRequest.model_validate(base)


def runs_count(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM backtest_runs").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def ready(db: str) -> str:
    store_candles(db, BTC, walk(600, 1))
    store_candles(db, ETH, walk(600, 2, 50.0))
    create_strategy(db, sma_doc())
    return db


def test_a_run_is_stored_with_its_inputs_and_a_rerun_reproduces_its_hash(ready: str) -> None:
    with psycopg.connect(ready) as conn:
        first = runner.run(conn, request())
        again = runner.run(conn, request())
        stored = runner.load_result(conn, first.run_id)
    assert first.candles == 1200 and first.metrics["trades"] == len(first.trades) > 10
    assert (again.run_id, again.result_hash, again.rerun) == (first.run_id, first.result_hash, True)
    assert stored["status"] == "done" and stored["result_hash"] == first.result_hash
    assert stored["request"]["fills"]["fill"] == "next_open" and stored["request"]["symbols"] == [BTC, ETH]
    assert stored["strategy"]["indicators"]["fast"]["period"] == 10 and stored["version"] == 1
    assert {t["symbol"] for t in stored["trades"]} == {BTC, ETH}
    page = report.html_report(stored)
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page
    assert "<script" not in page and first.run_id in page


def test_a_rerun_of_an_id_refuses_changed_candles_or_parameters(ready: str) -> None:
    with psycopg.connect(ready) as conn:
        first = runner.run(conn, request())
        with pytest.raises(runner.BacktestError, match=r"fee_rate|fills"):
            runner.run(conn, request(fills=FillModel(fee_rate=Decimal("0.001"))), run_id=first.run_id)
        # a revised candle changes the data version
        conn.execute("INSERT INTO candles (venue, symbol, timeframe, open_time, revision, close_time, open, high,"
                     " low, close, volume, origin) SELECT venue, symbol, timeframe, open_time, 2, close_time, open,"
                     " high * 1.01, low, close, volume, origin FROM candles WHERE symbol = %s AND open_time = %s",
                     (BTC, START + timedelta(minutes=300)))  # fmt: skip
        conn.commit()
        with pytest.raises(runner.BacktestError, match=r"data version .* is not the stored"):
            runner.run(conn, request(), run_id=first.run_id)
        row = conn.execute("SELECT status, result_hash FROM backtest_runs WHERE run_id = %s",
                           (first.run_id,)).fetchone()  # fmt: skip
    assert row == ("done", first.result_hash)
    assert runs_count(ready) == 1


def test_run_parameters_are_immutable_in_the_database(ready: str) -> None:
    with psycopg.connect(ready) as conn:
        first = runner.run(conn, request())
        with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
            conn.execute("UPDATE backtest_runs SET data_version = 'x' WHERE run_id = %s", (first.run_id,))


def test_bad_requests_are_refused_clearly_and_leave_no_run(ready: str) -> None:
    with psycopg.connect(ready) as conn:
        with pytest.raises(runner.BacktestError, match=r"no strategy 'nope'.*kairos strategy create"):
            runner.run(conn, request(strategy_id="nope"))
        conn.rollback()
        with pytest.raises(runner.BacktestError, match=r"no version 7.*latest is 1"):
            runner.run(conn, request(strategy_version=7))
        conn.rollback()
        with pytest.raises(runner.BacktestError, match=r"no 1m candles of ETH/USDT:USDT.*kairos candles import"):
            runner.run(conn, request(start=END, end=END + timedelta(hours=1), symbols=(ETH,)))
        conn.rollback()
        with pytest.raises(runner.BacktestError, match="no 1m candles of SOL/USDT:USDT"):
            runner.run(conn, request(symbols=(BTC, "SOL/USDT:USDT")))
    with pytest.raises(ValidationError, match="empty range"):
        request(end=START)
    assert runs_count(ready) == 0


def test_compare_conventions_side_by_side(ready: str) -> None:
    with psycopg.connect(ready) as conn:
        a = runner.run(conn, request())
        b = runner.run(conn, request(fills=FillModel(fill="close", sizing="all_equity")))
    assert a.run_id != b.run_id and a.result_hash != b.result_hash
    assert [t["entry_price"] for t in a.trades] != [t["entry_price"] for t in b.trades]
