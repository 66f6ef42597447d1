"""A backtest runs the live guardian's checks (kairos.risk.decision) over its simulated book:
the rejected entries are the ones a hand count gives, are stored with their reason codes, and
the limits are part of the run's inputs (hash and run id)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
from kairos.backtest import runner
from kairos.backtest.config import BacktestRequest, FillModel
from kairos.backtest.risk import RiskGate, scopes_of
from kairos.backtest.simulate import _Sim, simulate_together
from kairos.risk import limits as risk_limits
from kairos.strategies.language import StrategySpec, parse

from tests.backtest.conftest import START, VENUE, create_strategy, store_candles
from tests.backtest.kit import HOUR, bars, flat

A, B, C = "AAA/USDT:USDT", "BBB/USDT:USDT", "CCC/USDT:USDT"
D = Decimal


def threshold_doc(symbols: list[str], timeframe: str = "1h") -> dict[str, Any]:
    """Long when the close crosses above 100, out when it crosses below; 1 unit per entry."""
    return {
        "name": "risk-bt", "account": "acc-risk-bt",
        "universe": {"venue": VENUE, "symbols": symbols, "timeframe": timeframe},
        "rules": {"long": {"entry": {"crosses_above": ["close", 100]}, "exit": {"crosses_below": ["close", 100]}}},
        "sizing": {"type": "fixed_quantity", "quantity": "1"},
    }  # fmt: skip


def closes(*prices: float) -> list[tuple[float, float, float, float]]:
    return [flat(p) for p in prices]


# A enters at bar 1 and leaves at bar 4; B crosses up at bar 2 (A held), down at bar 5, up at
# bar 6 (nothing held); C crosses up at bar 3 at 200 (A and B held) and never leaves.
SERIES = {
    A: closes(90, 110, 110, 110, 90, 90, 90, 90, 90),
    B: closes(90, 90, 120, 120, 120, 90, 120, 120, 120),
    C: closes(90, 90, 90, 200, 200, 200, 200, 200, 200),
}


def backtest(spec: StrategySpec, by_kind: dict[str, dict[str, Decimal]]) -> tuple[list[Any], RiskGate]:
    series = {s: bars(rows) for s, rows in SERIES.items()}
    scopes = scopes_of(spec)
    lims = {s: by_kind[s[0]] for s in scopes if s[0] in by_kind}
    gates: list[RiskGate] = []

    def make(sims: list[_Sim]) -> RiskGate:
        gates.append(RiskGate(sims, VENUE, scopes, lims))
        return gates[0]

    results = simulate_together(spec, series, FillModel(fee_rate=D(0)), 1000.0, HOUR, make)
    return results, gates[0]


def entries(results: list[Any]) -> list[tuple[str, int]]:
    return sorted((t.symbol, (t.entry_time - SERIES_T0) // HOUR) for r in results for t in r.trades)


SERIES_T0 = bars(closes(1)).open_time[0]


def test_max_open_positions_rejects_exactly_the_entries_a_hand_count_gives() -> None:
    spec = parse(threshold_doc([A, B, C]))
    results, gate = backtest(spec, {"account": {"max_open_positions": D(1)}})
    # bar 1: A enters (0 held). bar 2: B would be the 2nd -> rejected. bar 3: C (A held) -> rejected.
    # bar 4: A exits. bar 5: B crosses down (nothing held). bar 6: B enters (0 held) -> approved.
    got = [(r.symbol, (r.open_time - SERIES_T0) // HOUR, r.reason_code, r.observed, r.limit) for r in gate.rejections]
    assert got == [(B, 2, "MAX_OPEN_POSITIONS", D(2), D(1)), (C, 3, "MAX_OPEN_POSITIONS", D(2), D(1))]
    assert all(r.scope == ("account", "acc-risk-bt") for r in gate.rejections)
    # fills at the next open: A at bar 2, B at bar 7 only
    assert entries(results) == [(A, 2), (B, 7)]


def test_max_order_notional_rejects_the_entry_above_it_and_no_other() -> None:
    spec = parse(threshold_doc([A, B, C]))
    results, gate = backtest(spec, {"strategy": {"max_order_notional": D(150)}})
    # notional = 1 x the decision close: A 110, B 120 (twice), C 200 -> only C's entry rejected
    assert [(r.symbol, r.reason_code, r.observed) for r in gate.rejections] == [(C, "MAX_ORDER_NOTIONAL", D(200))]
    assert entries(results) == [(A, 2), (B, 3), (B, 7)]


def test_without_limits_every_entry_fills() -> None:
    results, gate = backtest(parse(threshold_doc([A, B, C])), {})
    assert gate.rejections == [] and entries(results) == [(A, 2), (B, 3), (B, 7), (C, 4)]


def test_a_stored_run_keeps_its_rejections_and_its_limits_are_part_of_its_inputs(db: str) -> None:
    for symbol, rows in SERIES.items():
        store_candles(db, symbol, rows, timeframe="1h", step_ms=HOUR)
    create_strategy(db, threshold_doc([A, B, C]))
    base: dict[str, Any] = {"strategy_id": "risk-bt", "start": START, "end": START + timedelta(hours=9),
                            "balance": D(10000), "fills": FillModel(fee_rate=D(0))}  # fmt: skip
    given = {"account": {"max_open_positions": D(1)}}
    with psycopg.connect(db) as conn:
        free = runner.run(conn, BacktestRequest(**base))
        limited = runner.run(conn, BacktestRequest(**base, risk_limits=given))
        stored = runner.load_result(conn, limited.run_id)
        with conn.transaction():  # the same limit stored for the account: the run reads it when none is given
            risk_limits.set_limit(conn, "account", "acc-risk-bt", "max_open_positions", D(1), actor="t", reason="t")
        from_store = runner.run(conn, BacktestRequest(**base))
    assert free.rejections == [] and len(free.trades) == 4
    assert limited.run_id != free.run_id and limited.result_hash != free.result_hash
    assert [(r["symbol"], r["reason_code"], r["scope"]) for r in stored["rejections"]] == [
        (B, "MAX_OPEN_POSITIONS", "account:acc-risk-bt"),
        (C, "MAX_OPEN_POSITIONS", "account:acc-risk-bt"),
    ]
    assert stored["request"]["risk_limits"] == {"account": {"max_open_positions": "1"}}
    assert len(stored["trades"]) == 2
    assert (from_store.run_id, from_store.result_hash) == (limited.run_id, limited.result_hash)


def test_the_cli_takes_risk_limits_as_json_or_a_file_and_names_a_bad_one(
    db: str, tmp_path: Any, capsys: Any, monkeypatch: Any
) -> None:
    from kairos.backtest import cli

    for symbol, rows in SERIES.items():
        store_candles(db, symbol, rows, timeframe="1h", step_ms=HOUR)
    create_strategy(db, threshold_doc([A, B, C]))
    monkeypatch.setenv("DATABASE_URL", db)
    monkeypatch.chdir(tmp_path)
    limits_file = tmp_path / "limits.json"
    limits_file.write_text('{"account": {"max_open_positions": 1}}')
    common = ["run", "--strategy", "risk-bt", "--from", "2026-01-01", "--to", "2026-01-01T09:00", "--fees", "0",
              "--no-progress", "--risk-limits"]  # fmt: skip

    def main(*args: str) -> int:
        import argparse

        parser = argparse.ArgumentParser()
        cli.add_arguments(parser)
        return cli.run(parser.parse_args(list(args)))

    assert main(*common, str(limits_file)) == 0
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT rejections FROM backtest_results").fetchone()
    assert row is not None and [r["reason_code"] for r in row[0]] == ["MAX_OPEN_POSITIONS"] * 2
    assert main(*common, '{"account": {"max_open_postions": 1}}') == 2
    assert "max_open_postions" in capsys.readouterr().err
    assert main(*common, str(tmp_path / "missing.json")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_run_without_limits_still_takes_the_guardians_lot_rule(db: str) -> None:
    """Live, every entry passes the guardian, which rounds down to the market's step (BTC: 0.001)
    and refuses what falls below its minimum even when no limit is stored; a backtest with none
    does the same, so its quantities are the ones live trading sends."""
    btc = "BTC/USDT:USDT"
    series = SERIES[A]
    store_candles(db, btc, series, timeframe="1h", step_ms=HOUR)
    for name, quantity in (("lot-bt", "0.0037"), ("tiny-bt", "0.0004")):
        doc = {**threshold_doc([btc]), "name": name, "sizing": {"type": "fixed_quantity", "quantity": quantity}}
        create_strategy(db, doc)
    base: dict[str, Any] = {"start": START, "end": START + timedelta(hours=9), "balance": D(10000),
                            "fills": FillModel(fee_rate=D(0)), "risk_limits": {}}  # fmt: skip
    with psycopg.connect(db) as conn:
        lot = runner.run(conn, BacktestRequest(strategy_id="lot-bt", **base))
        tiny = runner.run(conn, BacktestRequest(strategy_id="tiny-bt", **base))
    assert [t["quantity"] for t in lot.trades] == ["0.00300000"] and lot.rejections == []
    assert tiny.trades == []
    assert [(r["reason_code"], r["observed"], r["limit"]) for r in tiny.rejections] == [
        ("QUANTITY_BELOW_LOT", "0.000", "0.001")
    ]
