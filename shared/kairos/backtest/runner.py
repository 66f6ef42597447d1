"""Run a backtest end to end: check the request, read candles, simulate, store, hash.

Order of work, so that a bad request leaves nothing behind: the strategy version is resolved,
every symbol's candles are read and the data version computed *before* a ``backtest_runs``
row exists. Then the run row is committed (its parameters are immutable from here on), the
simulation runs, and the result and the run's status are written in one transaction. A run
that fails after starting is marked ``failed`` with the reason.

A run id names one set of inputs: by default it is derived from the request, the strategy
document and the data version, so running the same backtest again finds its earlier run,
re-runs it and compares result hashes. A given id whose stored inputs differ is refused,
naming each difference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg

from kairos.backtest import data, metrics
from kairos.backtest import risk as backtest_risk
from kairos.backtest.config import BacktestRequest, canonical_json, digest
from kairos.backtest.simulate import SymbolResult, simulate, simulate_together
from kairos.errors import PermanentError
from kairos.marketdata.timeframes import TIMEFRAME_MS
from kairos.risk import limits
from kairos.strategies import store as strategies
from kairos.strategies.indicators import Candles
from kairos.strategies.language import StrategySpec, canonical

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as symbols are read and simulated."""

EQUITY_POINTS = 2000


class BacktestError(PermanentError):
    """A backtest that cannot run as asked (unknown strategy, empty range, missing candles,
    a re-run whose inputs differ); the message says what to do."""


@dataclass(frozen=True)
class Outcome:
    run_id: str
    result_hash: str
    metrics: dict[str, Any]
    trades: list[dict[str, Any]]
    signals: list[dict[str, Any]]
    equity: dict[str, list[Any]]
    candles: int
    data_version: str
    rerun: bool
    """True when the run id existed and this run reproduced it (same result hash)."""
    rejections: list[dict[str, Any]] = field(default_factory=list)
    """Entries the risk checks rejected (empty without risk limits)."""


def _money(x: float) -> str:
    """Fixed rounding of every number written out: 8 decimals (enough for prices and sizes)."""
    return f"{x:.8f}"


def _metric(x: Any) -> Any:
    if isinstance(x, float):
        return float(f"{x:.10g}")
    return x


def _isos(ms: list[int]) -> list[str]:
    """Many epoch-ms times as UTC text at once (numpy formats them; the same text as ``_iso``)."""
    text = np.datetime_as_string(np.array(ms, dtype="datetime64[ms]").astype("datetime64[s]"), unit="s")
    return [f"{t}Z" for t in text.tolist()]


def _union(arrays: list[np.ndarray]) -> np.ndarray:
    """Sorted distinct values of sorted arrays (sort-based: no hashing, same order everywhere)."""
    if len(arrays) == 1:
        return arrays[0]
    joined = np.sort(np.concatenate(arrays), kind="stable")
    keep = np.ones(len(joined), dtype=bool)
    keep[1:] = joined[1:] != joined[:-1]
    return joined[keep]


def resolve(conn: psycopg.Connection, req: BacktestRequest) -> tuple[int, StrategySpec]:
    rows = strategies.rows(conn, req.strategy_id)
    if not rows:
        raise BacktestError(f"no strategy {req.strategy_id!r}: create it first (kairos strategy create FILE)")
    version = req.strategy_version or rows[0].latest_version
    try:
        return version, strategies.spec(conn, req.strategy_id, version)
    except strategies.StrategyError as exc:
        raise BacktestError(f"{exc} (latest is {rows[0].latest_version})") from None


def plan(
    conn: psycopg.Connection, req: BacktestRequest, note: Progress | None = None
) -> tuple[int, StrategySpec, str, dict[str, Candles]]:
    """The strategy version, its spec, the timeframe and every symbol's candles (or BacktestError)."""
    version, spec = resolve(conn, req)
    timeframe = req.timeframe or spec.universe.timeframe
    symbols = req.symbols or tuple(spec.universe.symbols)
    series: dict[str, Candles] = {}
    missing = []
    for k, symbol in enumerate(symbols):
        if note is not None:
            note("read candles", k, len(symbols))
        c = data.load(conn, spec.universe.venue, symbol, timeframe, req.start, req.end)
        if len(c) == 0:
            missing.append(symbol)
        series[symbol] = c
    if missing:
        raise BacktestError(
            f"no {timeframe} candles of {', '.join(missing)} on {spec.universe.venue} from {req.start.isoformat()}"
            f" to {req.end.isoformat()}: import a file (kairos candles import) or backfill"
            f" (kairos candles backfill), or choose a range that has candles"
        )
    return version, spec, timeframe, series


def risk_limits(conn: psycopg.Connection, req: BacktestRequest, spec: StrategySpec) -> BacktestRequest:
    """The request with its risk limits fixed: as given, or the limits stored now for the
    global scope, the strategy's account and the strategy (what the live guardian would apply)."""
    if req.risk_limits is not None:
        return req
    stored: dict[str, dict[str, Decimal]] = {}
    for lim in limits.current(conn, backtest_risk.scopes_of(spec)):
        stored.setdefault(lim.scope_kind, {})[lim.name] = lim.value
    return req.model_copy(update={"risk_limits": stored})


def _request_doc(req: BacktestRequest, version: int, spec: StrategySpec, timeframe: str) -> dict[str, Any]:
    doc = json.loads(req.model_dump_json())
    doc["strategy_version"] = version
    doc["timeframe"] = timeframe
    doc["symbols"] = list(req.symbols or spec.universe.symbols)
    if not any((req.risk_limits or {}).values()):
        doc.pop("risk_limits", None)  # no limit: the same request (and run id) as before limits existed
    return doc


def default_run_id(request: dict[str, Any], strategy: dict[str, Any], data_version: str) -> str:
    return "bt-" + digest({"request": request, "strategy": strategy, "data": data_version})[:24]


def run(
    conn: psycopg.Connection,
    req: BacktestRequest,
    run_id: str | None = None,
    progress: Progress | None = None,
    *,
    commit_start: bool = True,
) -> Outcome:
    """Run (or re-run) a backtest and store it; raises BacktestError for a bad request or a mismatch.

    ``commit_start`` (the CLI): the run row is committed before the simulation and marked failed
    if it raises. Without it (a function, inside its event's transaction) the run row, the result
    and the outgoing event commit together or not at all."""
    note = progress or (lambda _stage, _done, _total: None)
    version, spec, timeframe, series = plan(conn, req, note)
    req = risk_limits(conn, req, spec)
    request = _request_doc(req, version, spec, timeframe)
    strategy_doc = canonical(spec)
    data_version = data.version(series)
    run_id = run_id or default_run_id(request, strategy_doc, data_version)
    count = sum(len(c) for c in series.values())
    previous = _check_existing(conn, run_id, request, strategy_doc, data_version)
    if previous is None:
        conn.execute(
            "INSERT INTO backtest_runs (run_id, strategy_id, version, request, strategy, data_version, candles)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (run_id, req.strategy_id, version, canonical_json(request), canonical_json(strategy_doc), data_version,
             count),
        )  # fmt: skip
    if not commit_start:
        result_hash, result = compute(spec, series, req, timeframe, note)
        return _finish(conn, run_id, previous, result_hash, result, count, data_version)
    conn.commit()
    try:
        outcome = compute(spec, series, req, timeframe, note)
    except Exception as exc:
        conn.rollback()
        conn.execute("UPDATE backtest_runs SET status = 'failed', error = %s, finished_at = now() WHERE run_id = %s",
                     (f"{type(exc).__name__}: {exc}", run_id))  # fmt: skip
        conn.commit()
        raise
    result_hash, result = outcome
    return _finish(conn, run_id, previous, result_hash, result, count, data_version)


def _finish(
    conn: psycopg.Connection,
    run_id: str,
    previous: str | None,
    result_hash: str,
    result: dict[str, Any],
    count: int,
    data_version: str,
) -> Outcome:
    """Check a re-run's hash, store the result and mark the run done."""
    if previous and previous != result_hash:
        raise BacktestError(
            f"backtest {run_id} did not reproduce: result hash {result_hash} differs from the stored {previous}"
            " with the same inputs (a change in the simulator or the strategy code)"
        )
    with conn.transaction():
        conn.execute("DELETE FROM backtest_results WHERE run_id = %s", (run_id,))
        conn.execute(
            "INSERT INTO backtest_results (run_id, metrics, trades, signals, equity, result_hash, rejections)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (run_id, canonical_json(result["metrics"]), canonical_json(result["trades"]),
             canonical_json(result["signals"]), canonical_json(result["equity"]), result_hash,
             canonical_json(result.get("rejections", []))),
        )  # fmt: skip
        conn.execute("UPDATE backtest_runs SET status = 'done', error = NULL, result_hash = %s, finished_at = now()"
                     " WHERE run_id = %s", (result_hash, run_id))  # fmt: skip
    return Outcome(run_id, result_hash, result["metrics"], result["trades"], result["signals"], result["equity"],
                   count, data_version, previous is not None, result.get("rejections", []))  # fmt: skip


def _check_existing(
    conn: psycopg.Connection, run_id: str, request: dict[str, Any], strategy: dict[str, Any], data_version: str
) -> str | None:
    """None for a new id; the stored result hash ('' if none) for an id whose inputs match; else refuse."""
    row = conn.execute(
        "SELECT request, strategy, data_version, result_hash FROM backtest_runs WHERE run_id = %s", (run_id,)
    ).fetchone()
    if row is None:
        return None
    differences = []
    if row[2] != data_version:
        differences.append(f"data version {data_version[:16]}... is not the stored {row[2][:16]}... (the candles"
                           " in the range changed: revised, added or removed)")  # fmt: skip
    stored_request = row[0]
    for key in sorted(set(stored_request) | set(request)):
        if stored_request.get(key) != request.get(key):
            differences.append(f"{key}: {json.dumps(request.get(key))} is not the stored"
                               f" {json.dumps(stored_request.get(key))}")  # fmt: skip
    if row[1] != strategy:
        differences.append("the strategy document differs from the stored snapshot")
    if differences:
        raise BacktestError(f"backtest {run_id} exists with other inputs; refused (use a new --id):\n  "
                            + "\n  ".join(differences))  # fmt: skip
    return str(row[3] or "")


def compute(
    spec: StrategySpec, series: dict[str, Candles], req: BacktestRequest, timeframe: str, note: Progress
) -> tuple[str, dict[str, Any]]:
    """Simulate every symbol and combine (pure: no I/O): (result hash, result document)."""
    bar_ms = TIMEFRAME_MS[timeframe]
    balance = float(req.balance)
    symbols = list(series)
    share = balance / len(symbols)
    results: list[SymbolResult] = []
    by_kind = {k: v for k, v in (req.risk_limits or {}).items() if v}
    gates: list[backtest_risk.RiskGate] = []
    if by_kind:
        # one guardian over every symbol: the symbols are simulated together, in candle-time order
        note("simulate", 0, len(symbols))
        scopes = backtest_risk.scopes_of(spec)
        lims = {s: dict(by_kind[s[0]]) for s in scopes if s[0] in by_kind}

        def make_gate(sims: list[Any]) -> backtest_risk.RiskGate:
            gates.append(backtest_risk.RiskGate(sims, spec.universe.venue, scopes, lims))
            return gates[0]

        results = simulate_together(spec, series, req.fills, share, bar_ms, make_gate)
    else:
        # no limit: each symbol alone, its entries through the guardian's lot rule only
        for k, symbol in enumerate(symbols):
            note("simulate", k, len(symbols))
            gates.append(backtest_risk.RiskGate([], spec.universe.venue, [], {}))
            results.append(simulate(spec, symbol, series[symbol], req.fills, share, bar_ms, gates[-1]))
    note("simulate", len(symbols), len(symbols))
    times = _union([r.open_time for r in results])
    change = np.zeros(len(times))
    held = np.zeros(len(times))
    for r in results:
        # each symbol's equity change, carried forward over times it has no candle for
        idx = np.searchsorted(r.open_time, times, side="right") - 1
        valid = idx >= 0
        eq = r.equity_change()
        change[valid] += eq[idx[valid]]
        held[valid] += r.qty[idx[valid]] != 0
    equity = balance + change
    trades = sorted((t for r in results for t in r.trades), key=lambda t: (t.exit_time, t.entry_time, t.symbol))
    signals = [s for r in results for s in r.signals]
    bars = sum(len(r.qty) for r in results)
    exposure = float(sum(int(np.count_nonzero(r.qty)) for r in results)) / bars if bars else 0.0
    fees = sum(r.fees for r in results)
    funding = sum(float(r.funding[-1]) if len(r.funding) else 0.0 for r in results)
    m = metrics.compute(equity, times, bar_ms, balance, trades, fees, funding, exposure)
    dd = metrics.drawdown(np.concatenate(([balance], equity)))[1:]
    pick = np.linspace(0, len(times) - 1, min(len(times), EQUITY_POINTS)).astype(np.int64)
    pick = pick[np.concatenate(([True], pick[1:] != pick[:-1]))]
    result = {
        "metrics": {k: _metric(v) for k, v in m.items()},
        "trades": [
            {
                "symbol": t.symbol,
                "side": t.side,
                "entry_time": entry,
                "entry_price": _money(t.entry_price),
                "exit_time": exit_,
                "exit_price": _money(t.exit_price),
                "quantity": _money(t.quantity),
                "fees": _money(t.fees),
                "pnl": _money(t.pnl),
                "reason": t.reason,
                "rule": t.entry_rule,
            }
            for t, entry, exit_ in zip(
                trades, _isos([t.entry_time for t in trades]), _isos([t.exit_time for t in trades]), strict=True
            )
        ],
        "signals": [
            {
                "symbol": s.symbol,
                "candle_open_time": when,
                "action": s.action,
                "rule": s.rule,
                "quantity": _money(s.quantity),
            }
            for s, when in zip(signals, _isos([s.open_time for s in signals]), strict=True)
        ],
        "equity": {
            "time": _isos(times[pick].tolist()),
            "equity": [_money(float(equity[i])) for i in pick],
            "drawdown": [f"{float(dd[i]):.8f}" for i in pick],
            "open_positions": [int(held[i]) for i in pick],
        },
    }
    hashed = ["metrics", "trades", "signals"]
    rejected = sorted((r for g in gates for r in g.rejections), key=lambda r: (r.open_time, symbols.index(r.symbol)))
    if by_kind or rejected:
        result["rejections"] = backtest_risk.rejections_doc(rejected, _isos)
        hashed.append("rejections")
    return digest({k: result[k] for k in hashed}), result


def load_result(conn: psycopg.Connection, run_id: str, *, signals: bool = True) -> dict[str, Any]:
    """A stored run and its result (BacktestError if unknown). ``signals=False`` leaves the
    signal list out (reports do not draw it; a long run holds tens of thousands)."""
    row = conn.execute(
        "SELECT r.run_id, r.strategy_id, r.version, r.request, r.strategy, r.data_version, r.candles, r.status,"
        " r.error, r.result_hash, x.metrics, x.trades, "
        + ("x.signals" if signals else "NULL::jsonb")
        + ", x.equity, x.rejections FROM backtest_runs r"
        " LEFT JOIN backtest_results x USING (run_id) WHERE r.run_id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        raise BacktestError(f"no backtest {run_id!r} (kairos backtest list)")
    keys = ("run_id", "strategy_id", "version", "request", "strategy", "data_version", "candles", "status", "error",
            "result_hash", "metrics", "trades", "signals", "equity", "rejections")  # fmt: skip
    return dict(zip(keys, row, strict=True))


def runs(conn: psycopg.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT r.run_id, r.strategy_id, r.version, r.request, r.candles, r.status, r.created_at, x.metrics"
        " FROM backtest_runs r LEFT JOIN backtest_results x USING (run_id) ORDER BY r.created_at, r.run_id"
    ).fetchall()
    keys = ("run_id", "strategy_id", "version", "request", "candles", "status", "created_at", "metrics")
    return [dict(zip(keys, r, strict=True)) for r in rows]
