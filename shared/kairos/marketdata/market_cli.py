"""``kairos market``: what the candles cron and the ticker source fetch, and the ticker source itself.

    kairos market subscribe --symbol BTC/USDT:USDT --timeframe 1m[,5m,...] [--since DATE] [--venue binanceusdm]
    kairos market unsubscribe --symbol BTC/USDT:USDT [--timeframe 1m] [--venue binanceusdm]
    kairos market list [--venue V]
    kairos market tickers          the long-running ticker source (what the catalog's source runs)

Subscriptions live in Postgres (``market_subscriptions``; ``DATABASE_URL``, migrated first).
``--since`` (default: now) is where the cron's first fetch starts; older history is
``kairos candles backfill``'s job.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

import psycopg

from kairos.marketdata import store, timeframes
from kairos.marketdata.candles_cli import when
from kairos.runtime.config import require
from kairos.runtime.db import migrate
from kairos.venues.binance_usdm import VENUE
from kairos.venues.binance_usdm.symbols import native_symbol, unified_symbol


def _timeframes(text: str) -> list[str]:
    return [timeframes.check(t.strip()) for t in text.split(",") if t.strip()]


def _symbol(text: str) -> str:
    """The unified symbol; a venue symbol (BTCUSDT) is accepted and converted."""
    return text if "/" in text else unified_symbol(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = sub.add_parser("subscribe", help="fetch this symbol's candles (and tickers) from now on")
    s.add_argument("--venue", default=VENUE)
    s.add_argument("--symbol", required=True, type=_symbol)
    s.add_argument("--timeframe", default="1m", type=_timeframes, help="one or more, comma-separated")
    s.add_argument("--since", type=when, default=None, help="first candle wanted (default: now)")
    u = sub.add_parser("unsubscribe", help="stop fetching (every timeframe unless one is named)")
    u.add_argument("--venue", default=VENUE)
    u.add_argument("--symbol", required=True, type=_symbol)
    u.add_argument("--timeframe", default=None, type=timeframes.check)
    ls = sub.add_parser("list", help="the subscriptions and their newest stored candle")
    ls.add_argument("--venue", default=None)
    t = sub.add_parser("tickers", help="run the ticker source (polls the subscribed symbols)")
    from kairos.marketdata import tickers

    tickers.add_arguments(t)


def run(args: argparse.Namespace) -> int:
    if args.action == "tickers":
        from kairos.marketdata import tickers

        return tickers.run(args)
    url = require(os.environ, "DATABASE_URL", "the Postgres the subscriptions live in")
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        if args.action == "subscribe":
            if args.venue != VENUE:
                print(f"kairos market: no market data client for venue {args.venue!r} (only {VENUE})", file=sys.stderr)
                return 2
            native_symbol(args.symbol)
            since = args.since or datetime.now(UTC)
            for tf in args.timeframe:
                added = store.subscribe(conn, args.venue, args.symbol, tf, since)
                print(f"{args.venue} {args.symbol} {tf}: {'subscribed' if added else 'already subscribed'}")
            return 0
        if args.action == "unsubscribe":
            n = store.unsubscribe(conn, args.venue, args.symbol, args.timeframe)
            print(f"{n} subscription(s) removed")
            return 0 if n else 1
        subs = store.subscriptions(conn, args.venue)
        for sub in subs:
            last = sub.last_open_time.isoformat() if sub.last_open_time else "none yet"
            print(f"{sub.venue} {sub.symbol} {sub.timeframe} since {sub.since.isoformat()} newest {last}")
        if not subs:
            print("no subscriptions (kairos market subscribe --symbol BTC/USDT:USDT --timeframe 1m)")
        return 0
