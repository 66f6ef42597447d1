"""The Binance USD-M ticker source: poll last/mark/bid/ask of the subscribed symbols, publish raw.

A long-running process, not a function (like the NEAR Intents ingest): every
``KAIROS_MARKET_TICKER_INTERVAL_S`` (default 5 s) it makes three requests for all symbols
at once — ``ticker/24hr``, ``ticker/bookTicker``, ``premiumIndex`` — through ccxt's implicit
API (the venue's own JSON, verbatim) with backoff, and publishes one
``kairos.raw.binance_usdm.ticker`` per subscribed symbol. The event id comes from the rows'
exchange times, so a poll that sees nothing new publishes the same ids (deduped downstream).
REST polling: Binance has websockets, ccxt.pro is not a dependency of Kairos.

Symbols: ``KAIROS_MARKET_TICKER_SYMBOLS`` (comma-separated unified symbols) when set, else the
distinct symbols of ``market_subscriptions`` (``DATABASE_URL``), re-read every poll.
Sinks: Kafka directly (local runner, tests) or ``K_SINK`` (Knative SinkBinding).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kairos.bus.sinks import Sink, sink_from_env
from kairos.contracts.envelope import Envelope, new_event, stable_id
from kairos.contracts.market_data import RawBinanceUsdmTicker
from kairos.marketdata import poll
from kairos.venues.binance_usdm import VENUE
from kairos.venues.binance_usdm.symbols import native_symbol

log = logging.getLogger(__name__)

SOURCE = "/kairos/binance-usdm-tickers"
TOPIC = "raw.binance_usdm.ticker"


def raw_ticker_event(
    native: str, ticker: dict[str, Any], book: dict[str, Any] | None, premium: dict[str, Any] | None, fetched: datetime
) -> Envelope[RawBinanceUsdmTicker]:
    data = RawBinanceUsdmTicker(symbol=native, ticker=ticker, book=book, premium=premium, fetched_at=fetched)
    stamp = (ticker.get("closeTime"), ticker.get("lastPrice"), (book or {}).get("time"), (premium or {}).get("time"))
    return new_event(
        data,
        source=SOURCE,
        partition_key=f"{VENUE}|{native}",
        event_id=stable_id(VENUE, "ticker", native, *stamp),
        observed_at=fetched,
        venue=VENUE,
    )


class TickerSource:
    """Poll, publish, sleep until the next interval; ``polls``/``published``/``failures`` count."""

    def __init__(
        self,
        client: Any,
        sink: Sink,
        symbols: Callable[[], list[str]],
        interval_s: float = 5.0,
        backoff: poll.Backoff = poll.Backoff(attempts=3, first_delay_s=0.2, max_delay_s=1.0),
    ) -> None:
        self.client, self.sink, self.symbols, self.interval_s, self.backoff = client, sink, symbols, interval_s, backoff
        self.polls = self.published = self.failures = 0

    def poll_once(self) -> int:
        wanted = {native_symbol(s) for s in self.symbols()}
        if not wanted:
            return 0
        call = poll.call_with_backoff
        tickers = call(lambda: self.client.fapiPublicGetTicker24hr(), "ticker/24hr", self.backoff)
        books = call(lambda: self.client.fapiPublicGetTickerBookTicker(), "ticker/bookTicker", self.backoff)
        premiums = call(lambda: self.client.fapiPublicGetPremiumIndex(), "premiumIndex", self.backoff)
        fetched = datetime.now(UTC)
        book_by = {b["symbol"]: b for b in books}
        premium_by = {p["symbol"]: p for p in premiums}
        n = 0
        for t in tickers:
            native = t.get("symbol")
            if native in wanted:
                self.sink.publish(raw_ticker_event(native, t, book_by.get(native), premium_by.get(native), fetched))
                n += 1
        self.sink.flush()
        self.polls += 1
        self.published += n
        return n

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.poll_once()
            except Exception as exc:  # the venue or the broker failed this poll: the next one tries again
                self.failures += 1
                log.warning(
                    "ticker poll failed; next poll as scheduled", extra={"reason": f"{type(exc).__name__}: {exc}"}
                )
            stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))


def subscribed_symbols(database_url: str) -> Callable[[], list[str]]:
    import psycopg

    def read() -> list[str]:
        with psycopg.connect(database_url, autocommit=True) as conn:
            rows = conn.execute("SELECT DISTINCT symbol FROM market_subscriptions WHERE venue = %s", (VENUE,))
            return [r[0] for r in rows.fetchall()]

    return read


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=float, default=float(os.environ.get("KAIROS_MARKET_TICKER_INTERVAL_S", "5")))
    parser.add_argument("--base-url", default=os.environ.get("KAIROS_VENUE_BASE_URL") or None)


def run(args: argparse.Namespace) -> int:
    import signal

    from kairos.runtime import logs
    from kairos.runtime.config import require
    from kairos.venues.binance_usdm.client import make_client

    logs.configure(service="binance-usdm-tickers")
    fixed = [s.strip() for s in os.environ.get("KAIROS_MARKET_TICKER_SYMBOLS", "").split(",") if s.strip()]
    symbols = (
        (lambda: fixed)
        if fixed
        else subscribed_symbols(require(os.environ, "DATABASE_URL", "or set KAIROS_MARKET_TICKER_SYMBOLS"))
    )
    sink = sink_from_env(os.environ, TOPIC, client_id="binance-usdm-tickers")
    source = TickerSource(make_client(args.base_url, config={"timeout": 5000}), sink, symbols, args.interval)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("ticker source started", extra={"interval_s": args.interval})
    source.run(stop)
    sink.flush()
    sink.close()
    log.info("ticker source stopped", extra={"polls": source.polls, "published": source.published})
    return 0
