"""``kairos candles``: backfill history, import a file, list holes.

    kairos candles backfill --venue binanceusdm --symbol BTC/USDT:USDT --timeframe 1m --since 2025-01-01
                            [--until DATE] [--base-url URL]
    kairos candles import FILE [--venue binanceusdm] [--symbol S] [--timeframe TF]
    kairos candles gaps [--venue V] [--symbol S] [--timeframe TF] [--since DATE]

The database is ``DATABASE_URL`` (migrated first). The venue's address is ``--base-url``,
else ``KAIROS_VENUE_BASE_URL``, else Binance itself. Exit status 1 when rows were refused
(backfill: stored the rest and lists them; import: stored nothing) or holes were found.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from kairos.marketdata import store, timeframes
from kairos.marketdata.backfill import backfill
from kairos.marketdata.importer import ImportRefused, import_file
from kairos.runtime.config import require
from kairos.runtime.db import migrate
from kairos.venues.binance_usdm import VENUE
from kairos.venues.binance_usdm.client import make_client


def when(text: str) -> datetime:
    """A date or ISO 8601 time; without a zone it is UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    bf = sub.add_parser("backfill", help="page through the venue's history into the candles table (resumable)")
    bf.add_argument("--venue", default=VENUE)
    bf.add_argument("--symbol", required=True, help="ccxt's unified symbol, e.g. BTC/USDT:USDT")
    bf.add_argument("--timeframe", default="1m", type=timeframes.check)
    bf.add_argument("--since", required=True, type=when, help="date or ISO time (UTC unless a zone is given)")
    bf.add_argument("--until", type=when, default=None)
    bf.add_argument("--base-url", default=os.environ.get("KAIROS_VENUE_BASE_URL") or None)
    bf.add_argument("--timeout-ms", type=int, default=10_000)
    im = sub.add_parser("import", help="load a CSV (or Parquet) file of candles; refused whole on any bad row")
    im.add_argument("file", type=Path)
    im.add_argument("--venue", default=VENUE)
    im.add_argument("--symbol", default=None)
    im.add_argument("--timeframe", default=None, type=timeframes.check)
    gp = sub.add_parser("gaps", help="holes between stored candles (per subscription, or the one named)")
    gp.add_argument("--venue", default=None)
    gp.add_argument("--symbol", default=None)
    gp.add_argument("--timeframe", default=None, type=timeframes.check)
    gp.add_argument("--since", type=when, default=None)


def _backfill(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    if args.venue != VENUE:
        print(f"kairos candles: no market data client for venue {args.venue!r} (only {VENUE})", file=sys.stderr)
        return 2
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    client = make_client(args.base_url, config={"timeout": args.timeout_ms})
    start_ms = timeframes.to_ms(args.since)
    with Progress(
        TextColumn(f"{args.symbol} {args.timeframe}"),
        BarColumn(),
        TextColumn("{task.fields[stored]:,} stored"),
        TimeRemainingColumn(),
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("backfill", total=None, stored=0)

        def progress(done_ms: int, end_ms: int, stored: int) -> None:
            bar.update(task, total=end_ms - start_ms, completed=done_ms - start_ms, stored=stored)

        result = backfill(
            conn, client, args.venue, args.symbol, args.timeframe, args.since, args.until, progress=progress
        )
    resumed = f" (resumed at {result.resumed_from.isoformat()})" if result.resumed_from else ""
    print(f"{args.symbol} {args.timeframe}: {result.stored} candles stored of {result.fetched} fetched{resumed}")
    if result.rejected:
        print(f"{len(result.rejected)} kline(s) refused (not stored):", file=sys.stderr)
        for line in result.rejected[:50]:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _import(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    try:
        result = import_file(conn, args.file, args.venue, args.symbol, args.timeframe)
    except ImportRefused as exc:
        print(f"kairos candles import: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"kairos candles import: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: {result.rows} rows read, {result.stored} candles stored (the rest were already stored)")
    return 0


def _gaps(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    subs = [
        s
        for s in store.subscriptions(conn, args.venue)
        if (args.symbol is None or s.symbol == args.symbol)
        and (args.timeframe is None or s.timeframe == args.timeframe)
    ]
    targets = [(s.venue, s.symbol, s.timeframe, args.since or s.since) for s in subs]
    if not targets and args.symbol and args.timeframe:
        targets = [(args.venue or VENUE, args.symbol, args.timeframe, args.since or datetime(1970, 1, 1, tzinfo=UTC))]
    found = 0
    for venue, symbol, tf, since in targets:
        for g in store.gaps(conn, venue, symbol, tf, since):
            found += 1
            note = "  (the venue has none: alerted)" if g.venue_missing else ""
            print(f"{venue} {symbol} {tf}: {g.start.isoformat()} .. {g.end.isoformat()}{note}")
    if not found:
        print(f"no gaps in {len(targets)} series")
    return 1 if found else 0


def run(args: argparse.Namespace) -> int:
    url = require(os.environ, "DATABASE_URL", "the Postgres the candles table lives in")
    migrate(url)
    with psycopg.connect(url) as conn:
        if args.action == "backfill":
            return _backfill(conn, args)
        if args.action == "import":
            return _import(conn, args)
        return _gaps(conn, args)
