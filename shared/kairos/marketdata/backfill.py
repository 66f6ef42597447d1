"""``kairos candles backfill``: page through a venue's kline history into ``candles`` with COPY.

Each page (1,500 klines, Binance's largest) is validated by the same rules as normalize,
stored with COPY in one transaction together with the resume point (``candle_backfills``),
so a killed backfill resumes at the first page it had not committed, and re-running over
stored history adds nothing (open times already stored are skipped). ccxt's client-side
rate limiter is on against Binance itself, and 429/418/5xx/timeouts back off and retry.
Rows that break the rules are not stored and are reported with their reason; the holes
they leave show in ``kairos candles gaps``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from kairos.marketdata import poll, store, timeframes
from kairos.marketdata.normalize import problem
from kairos.marketdata.timeframes import from_ms, to_ms
from kairos.venues.binance_usdm.symbols import native_symbol

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]  # (done up to ms, end ms, candles stored so far)


@dataclass
class BackfillResult:
    stored: int = 0
    fetched: int = 0
    resumed_from: datetime | None = None
    finished: bool = False
    rejected: list[str] = field(default_factory=list)


def rows_of(page: list[list[Any]], timeframe: str, now_ms: int, rejected: list[str]) -> list[store.Row]:
    """Validated rows of closed klines; the others' reasons go to ``rejected`` (unclosed ones are not errors)."""
    out: list[store.Row] = []
    for k in page:
        open_ms, close_ms = int(k[0]), int(k[6])
        if close_ms >= now_ms:
            continue  # still open: the cron takes it once closed
        o, h, lo, c, v = (Decimal(x) for x in k[1:6])
        why = problem(open_ms, close_ms, o, h, lo, c, v, timeframe, now_ms)
        if why is not None:
            rejected.append(f"{from_ms(open_ms).isoformat()}: {why}")
            continue
        qv = Decimal(k[7]) if len(k) > 7 and k[7] is not None else None
        trades = int(k[8]) if len(k) > 8 and k[8] is not None else None
        out.append((from_ms(open_ms), from_ms(close_ms), o, h, lo, c, v, qv, trades))
    return out


def _resume_point(conn: psycopg.Connection, key: tuple[str, str, str, datetime], start: int) -> int:
    row = conn.execute(
        "INSERT INTO candle_backfills (venue, symbol, timeframe, since, next_start) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (venue, symbol, timeframe, since) DO UPDATE SET updated_at = now()"
        " RETURNING next_start",
        (*key, from_ms(start)),
    ).fetchone()
    assert row is not None
    return to_ms(row[0])


def backfill(
    conn: psycopg.Connection,
    client: Any,
    venue: str,
    symbol: str,
    timeframe: str,
    since: datetime,
    until: datetime | None = None,
    *,
    progress: Progress | None = None,
    backoff: poll.Backoff = poll.Backoff(),
    max_pages: int | None = None,
) -> BackfillResult:
    """Store the closed candles of [since, until or now) not stored yet; resumable. ``conn`` autocommit off."""
    timeframes.check(timeframe)
    native = native_symbol(symbol)
    start = timeframes.bucket_open(to_ms(since), timeframe)
    if start < to_ms(since):
        start = timeframes.next_open(start, timeframe)
    key = (venue, symbol, timeframe, since)
    result = BackfillResult()
    with conn.transaction():
        resume = _resume_point(conn, key, start)
    if resume > start:
        result.resumed_from = from_ms(resume)
        log.info("backfill resumes", extra={"symbol": symbol, "timeframe": timeframe, "from": from_ms(resume)})
    start = resume
    now_ms = poll.call_with_backoff(
        lambda: poll.market_time(client.fapiPublicGetPremiumIndex({"symbol": native})), "venue time", backoff
    )
    end = min(to_ms(until), now_ms) if until is not None else now_ms
    pages = 0
    while start < end and (max_pages is None or pages < max_pages):
        params = {"symbol": native, "interval": timeframe, "startTime": start, "endTime": end - 1, "limit": poll.PAGE}
        page = poll.call_with_backoff(lambda p=params: client.fapiPublicGetKlines(p), f"klines {native}", backoff)  # type: ignore[misc]
        pages += 1
        if not page:
            start = end
            break
        result.fetched += len(page)
        rows = rows_of(page, timeframe, now_ms, result.rejected)
        closed = [k for k in page if int(k[6]) < now_ms]
        # resume after the newest *closed* kline: one still open is taken by a later run or the cron
        next_start = timeframes.next_open(int(closed[-1][0]), timeframe) if closed else end
        with conn.transaction():
            # a crash loses at most the last pages *and* their resume point together: redone on resume
            conn.execute("SET LOCAL synchronous_commit = off")
            result.stored += store.copy_new_candles(conn, venue, symbol, timeframe, rows, "backfill")
            conn.execute(
                "UPDATE candle_backfills SET next_start = %s, stored = stored + %s, updated_at = now()"
                " WHERE venue = %s AND symbol = %s AND timeframe = %s AND since = %s",
                (from_ms(next_start), len(rows), *key),
            )
        start = next_start if len(page) == poll.PAGE else end  # a short page: nothing more before ``end``
        if progress is not None:
            progress(min(start, end), end, result.stored)
    if start >= end:
        result.finished = True
        with conn.transaction():
            conn.execute(
                "UPDATE candle_backfills SET finished_at = now() WHERE venue = %s AND symbol = %s"
                " AND timeframe = %s AND since = %s",
                key,
            )
    return result
