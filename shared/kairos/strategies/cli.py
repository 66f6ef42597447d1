"""``kairos strategy``: validate, create, list, show, start and stop strategies.

    kairos strategy validate FILE...            check documents; every problem with its path
    kairos strategy create FILE... [--start]    store each as its strategy's next version
    kairos strategy list                        state, running/latest version, account
    kairos strategy show ID [--version N]       the document, state and per-symbol status
    kairos strategy start ID [--version N]      RUNNING (default: the latest version)
    kairos strategy stop ID [--reason TEXT]     STOPPED

``validate`` needs no database. The others use ``DATABASE_URL`` (migrated first). Start and
stop write ``strategy.started`` / ``strategy.stopped`` to the outbox in the same transaction
as the state change; the outbox relay publishes them on ``event.strategy``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope
from kairos.runtime.db import migrate
from kairos.runtime.recorder import append_outbox
from kairos.strategies import indicators, store
from kairos.strategies.language import Problem, StrategyInvalid, StrategySpec, parse_text

PRODUCER = "kairos-strategy-cli"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    val = sub.add_parser("validate", help="check strategy documents (YAML or JSON)")
    val.add_argument("files", nargs="+", type=Path)
    cre = sub.add_parser("create", help="store documents as new versions")
    cre.add_argument("files", nargs="+", type=Path)
    cre.add_argument("--start", action="store_true", help="start each at the version just stored")
    sub.add_parser("list", help="every strategy and its state")
    show = sub.add_parser("show", help="one strategy: document, state, symbols")
    show.add_argument("strategy_id")
    show.add_argument("--version", type=int, default=None)
    start = sub.add_parser("start", help="RUNNING from now on")
    start.add_argument("strategy_id")
    start.add_argument("--version", type=int, default=None)
    stop = sub.add_parser("stop", help="STOPPED from now on")
    stop.add_argument("strategy_id")
    stop.add_argument("--reason", default="stopped by an operator")


def _load(path: Path) -> StrategySpec:
    try:
        text = path.read_text()
    except OSError as exc:
        raise StrategyInvalid([Problem(str(path), "a readable file", str(exc))]) from None
    return parse_text(text)


def validate_files(files: list[Path]) -> tuple[list[StrategySpec], int]:
    """Parsed documents and the number that failed (each failure printed with its problems)."""
    specs, failed = [], 0
    for path in files:
        try:
            specs.append(_load(path))
        except StrategyInvalid as exc:
            failed += 1
            print(f"{path}: invalid", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
    return specs, failed


def _who() -> str:
    try:
        return f"{getpass.getuser()} (kairos strategy)"
    except Exception:
        return "kairos strategy"


def _announce(conn: psycopg.Connection, event: Envelope[Any] | None) -> None:
    if event is not None:
        append_outbox(conn, PRODUCER, [(store.TOPIC, event)])


def run(args: argparse.Namespace) -> int:
    if args.action == "validate":
        specs, failed = validate_files(args.files)
        for spec in specs:
            print(f"{spec.name}: valid ({len(spec.universe.symbols)} symbols, {spec.universe.timeframe},"
                  f" warm-up {indicators.warmup_bars(spec)} candles)")
        return 1 if failed else 0
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        print("kairos strategy: DATABASE_URL is not set (the Postgres the functions use)", file=sys.stderr)
        return 2
    migrate(url)
    try:
        with psycopg.connect(url) as conn:
            return _run_db(conn, args)
    except store.StrategyError as exc:
        print(f"kairos strategy: {exc}", file=sys.stderr)
        return 1


def _run_db(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    who = _who()
    if args.action == "create":
        specs, failed = validate_files(args.files)
        if failed:
            return 1
        for spec in specs:
            with conn.transaction():
                version, created = store.create(conn, spec, who)
                print(f"{spec.name}: version {version}" + (" created" if created else " (unchanged)"))
                if args.start:
                    _announce(conn, store.start(conn, spec.name, version, who))
                    print(f"{spec.name}: RUNNING version {version}")
        return 0
    if args.action == "list":
        with conn.transaction():
            _announce_all(conn, store.apply_recovery_stop(conn))
        for row in store.rows(conn):
            running = f"v{row.running_version}" if row.running_version else "-"
            print(f"{row.strategy_id:<28} {row.state:<8} running {running:<5} latest v{row.latest_version:<4}"
                  f" since {row.state_changed_at:%Y-%m-%d %H:%M:%S} by {row.state_changed_by}: {row.state_reason}")
        return 0
    if args.action == "show":
        return _show(conn, args)
    if args.action == "start":
        with conn.transaction():
            _announce(conn, store.start(conn, args.strategy_id, args.version, who))
        print(f"{args.strategy_id}: RUNNING")
        return 0
    with conn.transaction():
        event = store.stop(conn, args.strategy_id, who, args.reason)
        _announce(conn, event)
    print(f"{args.strategy_id}: STOPPED" + ("" if event else " (was not running)"))
    return 0


def _announce_all(conn: psycopg.Connection, events: list[Any]) -> None:
    for event in events:
        _announce(conn, event)


def _show(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    with conn.transaction():
        _announce_all(conn, store.apply_recovery_stop(conn))
    found = store.rows(conn, args.strategy_id)
    if not found:
        raise store.StrategyError(f"no strategy {args.strategy_id!r} (kairos strategy list)")
    row = found[0]
    version = args.version or row.running_version or row.latest_version
    spec = store.spec(conn, row.strategy_id, version)
    print(f"{row.strategy_id}: {row.state}" + (f" version {row.running_version}" if row.running_version else "")
          + f" (latest version {row.latest_version}); {row.state_reason} by {row.state_changed_by}")
    for symbol, position, qty, bars, needed, last in store.symbols(conn, row.strategy_id):
        status = f"warming up {bars}/{needed} candles" if bars < needed else "ready"
        held = f"{position} {qty}" if position else "flat"
        print(f"  {symbol:<20} {status:<28} {held:<20} last candle {last:%Y-%m-%d %H:%M}" if last else
              f"  {symbol:<20} {status:<28} {held}")
    print(f"version {version}:")
    print(json.dumps(spec.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2))
    return 0
