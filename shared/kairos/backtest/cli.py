"""``kairos backtest``: run a strategy over stored candles; list, show, compare, report runs.

    kairos backtest run --strategy ID[@VERSION] --from T --to T [--symbols S,S] [--timeframe TF]
                        [--balance 10000] [--fees 0.0004] [--slippage-bps 0] [--fill next_open|close]
                        [--sizing strategy|all_equity] [--both-touched stop_first|tp_first]
                        [--funding-rate-8h 0] [--risk-limits FILE|JSON] [--id RUN_ID]
                        [--html FILE] [--png FILE]
    kairos backtest list
    kairos backtest show RUN_ID [--trades N]
    kairos backtest compare RUN_ID RUN_ID...
    kairos backtest report RUN_ID [--html FILE] [--png FILE]

Uses ``DATABASE_URL`` (migrated first). Times without a zone are UTC. ``run`` prints the
metrics and writes the HTML report (default ``backtest-<id>.html`` in the current folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import psycopg
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kairos.backtest import report, runner
from kairos.backtest.config import BacktestRequest, FillModel
from kairos.marketdata.candles_cli import when
from kairos.runtime.db import migrate


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = sub.add_parser("run", help="backtest a stored strategy version over stored candles")
    r.add_argument("--strategy", required=True, help="ID or ID@VERSION (default: the latest version)")
    r.add_argument("--symbols", default="", help="comma-separated (default: the strategy's universe)")
    r.add_argument("--timeframe", default=None, help="default: the strategy's timeframe")
    r.add_argument("--from", dest="start", required=True, type=when, help="first candle open time (UTC)")
    r.add_argument("--to", dest="end", required=True, type=when, help="end, exclusive (UTC)")
    r.add_argument("--balance", type=_decimal, default=Decimal(10000), help="initial balance (quote currency)")
    r.add_argument("--fees", type=_decimal, default=FillModel().fee_rate, help="fee per fill, fraction of value")
    r.add_argument("--slippage-bps", type=_decimal, default=Decimal(0))
    r.add_argument("--fill", choices=("next_open", "close"), default="next_open")
    r.add_argument("--sizing", choices=("strategy", "all_equity"), default="strategy")
    r.add_argument("--both-touched", choices=("stop_first", "tp_first"), default="stop_first")
    r.add_argument("--funding-rate-8h", type=_decimal, default=Decimal(0))
    r.add_argument(
        "--risk-limits",
        default=None,
        help="risk limits per scope kind, a JSON file or text such as"
        ' \'{"account": {"max_open_positions": 2}}\' (default: the limits stored for the strategy\'s'
        ' account, the strategy and global; "{}": none)',
    )
    r.add_argument("--id", default=None, help="run id (default: derived from the inputs)")
    r.add_argument("--html", type=Path, default=None)
    r.add_argument("--png", type=Path, default=None)
    r.add_argument("--no-progress", action="store_true")
    sub.add_parser("list", help="every stored run with its headline numbers")
    s = sub.add_parser("show", help="one run: parameters, metrics, trades")
    s.add_argument("run_id")
    s.add_argument("--trades", type=int, default=20, help="how many trades to print (0: none)")
    c = sub.add_parser("compare", help="runs side by side")
    c.add_argument("run_ids", nargs="+")
    rep = sub.add_parser("report", help="write a run's HTML report and/or PNG chart")
    rep.add_argument("run_id")
    rep.add_argument("--html", type=Path, default=None)
    rep.add_argument("--png", type=Path, default=None)


def request_of(args: argparse.Namespace) -> BacktestRequest:
    strategy_id, _, version = args.strategy.partition("@")
    return BacktestRequest(
        strategy_id=strategy_id,
        strategy_version=int(version) if version else None,
        symbols=tuple(s.strip() for s in args.symbols.split(",") if s.strip()),
        timeframe=args.timeframe,
        start=args.start,
        end=args.end,
        balance=args.balance,
        fills=FillModel(
            fill=args.fill,
            fee_rate=args.fees,
            slippage_bps=args.slippage_bps,
            sizing=args.sizing,
            both_touched=args.both_touched,
            funding_rate_8h=args.funding_rate_8h,
        ),
        risk_limits=_risk_limits(args.risk_limits),
    )


def _risk_limits(value: str | None) -> Any:
    """``--risk-limits``: JSON text, or the path of a file holding it (None: the stored limits)."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = Path(value).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"--risk-limits: cannot read {value}: {exc.strerror}") from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--risk-limits: not JSON ({exc.msg} at line {exc.lineno})") from None


def run(args: argparse.Namespace) -> int:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        print("kairos backtest: DATABASE_URL is not set (the Postgres holding strategies and candles)", file=sys.stderr)
        return 2
    try:
        req = request_of(args) if args.action == "run" else None
    except ValueError as exc:
        if not isinstance(exc, ValidationError):
            print(f"kairos backtest: {exc}", file=sys.stderr)
            return 2
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"]) or "request"
            print(f"kairos backtest: {where}: {e['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    migrate(url)
    try:
        with psycopg.connect(url) as conn:
            if req is not None:
                return _run(conn, req, args)
            return _other(conn, args)
    except runner.BacktestError as exc:
        print(f"kairos backtest: {exc}", file=sys.stderr)
        return 1


def _run(conn: psycopg.Connection, req: BacktestRequest, args: argparse.Namespace) -> int:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, disable=args.no_progress or not sys.stderr.isatty(), transient=True) as bar:
        task = bar.add_task("backtest", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        out = runner.run(conn, req, args.id, progress)
    # keep the headline only: the stored result is read back below (the trades are not held twice)
    run_id, rerun, candles = out.run_id, out.rerun, out.candles
    data_version, result_hash = out.data_version, out.result_hash
    del out
    stored = runner.load_result(conn, run_id, signals=False)
    verb = "re-ran and reproduced" if rerun else "ran"
    print(f"{verb} {run_id}: {candles} candles, data version {data_version[:16]}...,"
          f" result hash {result_hash[:16]}...")  # fmt: skip
    _print_metrics([stored])
    target = args.html or Path(f"backtest-{run_id}.html")
    target.write_text(report.html_report(stored))
    print(f"report: {target}")
    if args.png:
        args.png.write_bytes(report.png(stored, run_id))
        print(f"chart: {args.png}")
    return 0


def _print_metrics(runs: list[dict[str, Any]]) -> None:
    width = max(22, *(len(r["run_id"]) + 2 for r in runs))
    print(f"{'':<26}" + "".join(f"{r['run_id']:>{width}}" for r in runs))
    for key in report.ORDER:
        values = [report.metric_text(key, (r["metrics"] or {}).get(key)) for r in runs]
        print(f"{key.replace('_', ' '):<26}" + "".join(f"{v:>{width}}" for v in values))


def _other(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    if args.action == "list":
        for r in runner.runs(conn):
            m = r["metrics"] or {}
            req = r["request"]
            print(f"{r['run_id']:<28} {r['strategy_id']}@{r['version']:<4} {r['status']:<7} {req['timeframe']:<4}"
                  f" {req['start'][:16]} .. {req['end'][:16]} {r['candles']:>9} candles"
                  f"  return {report.metric_text('total_return', m.get('total_return')):>9}"
                  f"  trades {m.get('trades', '-')}")  # fmt: skip
        return 0
    if args.action == "show":
        run = runner.load_result(conn, args.run_id, signals=False)
        print(f"{run['run_id']}: {run['strategy_id']} v{run['version']}, {run['status']}"
              + (f" ({run['error']})" if run["error"] else ""))  # fmt: skip
        for k, v in sorted(run["request"].items()):
            print(f"  {k}: {v}")
        print(f"  data version: {run['data_version']} ({run['candles']} candles)")
        print(f"  result hash: {run['result_hash']}")
        if run["metrics"]:
            _print_metrics([run])
        for t in (run["trades"] or [])[: args.trades]:
            print(
                f"  {t['symbol']:<16} {t['side']:<5} {t['entry_time']} {t['entry_price']:>16} -> {t['exit_time']}"
                f" {t['exit_price']:>16} qty {t['quantity']} fees {t['fees']} pnl {t['pnl']} ({t['reason']})"
            )
        return 0
    if args.action == "compare":
        runs = [runner.load_result(conn, r, signals=False) for r in args.run_ids]
        _print_metrics(runs)
        return 0
    run = runner.load_result(conn, args.run_id, signals=False)
    if run["status"] != "done":
        raise runner.BacktestError(f"backtest {args.run_id} is {run['status']}: no result to report")
    target = args.html or Path(f"backtest-{args.run_id}.html")
    target.write_text(report.html_report(run))
    print(f"report: {target}")
    if args.png:
        args.png.write_bytes(report.png(run, args.run_id))
        print(f"chart: {args.png}")
    return 0
