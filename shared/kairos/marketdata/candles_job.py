"""The candles cron's tick: every subscription's closed klines since its cursor, as raw events.

Per subscription the cursor is the candle after the newest one stored (normalize moves it),
or the subscription's ``since`` the first time. The newest ``KAIROS_MARKET_RECHECK_CANDLES``
stored candles are asked again, so a correction the venue makes soon after is seen; holes
between stored candles of the last ``KAIROS_MARKET_GAP_LOOKBACK_H`` hours (a rejected
candle, an earlier hiccup) are asked again too. Raw event ids come from the kline's
content: asking twice publishes nothing new downstream, while a corrected kline is a new
event and a new revision. A range the venue answers without some candle is recorded in
``candle_gaps`` and alerted once; a subscription the venue would not serve after backoff
is alerted every tick until it recovers (its cursor has not moved: nothing is skipped).
Each tick also makes sure the ``candles`` partitions of this month and the next exist.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, derive_event, new_event, stable_id
from kairos.contracts.market_data import RawBinanceUsdmKline
from kairos.contracts.ops import Alert, PingTick
from kairos.marketdata import poll, store, timeframes
from kairos.marketdata.timeframes import from_ms, to_ms
from kairos.venues.binance_usdm import VENUE
from kairos.venues.binance_usdm.client import make_client
from kairos.venues.binance_usdm.symbols import native_symbol, unified_symbol

log = logging.getLogger(__name__)

COMPONENT = "candles-cron"


def raw_kline_event(symbol: str, interval: str, kline: list[Any], venue_time: int, source: str) -> Envelope[Any]:
    """The raw event of one kline; its id is its content, so the same kline is the same event."""
    fetched = datetime.now(UTC)
    data = RawBinanceUsdmKline(symbol=symbol, interval=interval, kline=kline, venue_time=venue_time, fetched_at=fetched)  # type: ignore[arg-type]
    content = json.dumps(kline, separators=(",", ":"), default=str)
    return new_event(
        data,
        source=source,
        partition_key=f"{VENUE}|{unified_symbol(symbol)}|{interval}",
        event_id=stable_id(VENUE, "kline", symbol, interval, content),
        observed_at=fetched,
        venue=VENUE,
    )


def wants_of(conn: psycopg.Connection, lookback: timedelta, now: datetime, recheck: int = 2) -> list[poll.Want]:
    """What to ask for: per subscription from its cursor (less ``recheck`` stored candles), and its holes."""
    wants: list[poll.Want] = []
    for sub in store.subscriptions(conn, VENUE):
        native = native_symbol(sub.symbol)
        if sub.last_open_time is not None:
            # the newest stored candles are asked again: a late venue correction becomes a revision
            start = to_ms(sub.last_open_time)
            for _ in range(recheck - 1):
                start = timeframes.bucket_open(start - 1, sub.timeframe)
            wants.append(
                poll.Want(native, sub.timeframe, start if recheck else timeframes.next_open(start, sub.timeframe))
            )
        else:
            since = to_ms(sub.since)
            start = timeframes.bucket_open(since, sub.timeframe)
            if start < since:
                start = timeframes.next_open(start, sub.timeframe)
            wants.append(poll.Want(native, sub.timeframe, start, first_fetch=True))
            continue
        for gap in store.gaps(conn, VENUE, sub.symbol, sub.timeframe, max(sub.since, now - lookback)):
            if not gap.venue_missing:
                wants.append(poll.Want(native, sub.timeframe, to_ms(gap.start), to_ms(gap.end)))
    return wants


async def _poll(base_url: str | None, timeout_ms: int, wants: list[poll.Want], concurrency: int) -> Any:
    client = make_client(base_url, async_=True, config={"timeout": timeout_ms})
    try:
        return await poll.poll(client, wants, concurrency=concurrency)
    finally:
        await client.close()


def tick(
    conn: psycopg.Connection, cause: Envelope[PingTick], env: Mapping[str, str], source: str
) -> list[Envelope[Any]]:
    """One cron tick: raw kline events, plus alerts for venue gaps and unreachable subscriptions."""
    now = datetime.now(UTC)
    lookback = timedelta(hours=float(env.get("KAIROS_MARKET_GAP_LOOKBACK_H", "24")))
    store.ensure_partitions(conn, now, now + timedelta(days=31))  # this month's and next month's, ahead of need
    wants = wants_of(conn, lookback, now, int(env.get("KAIROS_MARKET_RECHECK_CANDLES", "2")))
    if not wants:
        return []
    venue_time, results = asyncio.run(
        _poll(
            env.get("KAIROS_VENUE_BASE_URL") or None,
            int(env.get("KAIROS_MARKET_VENUE_TIMEOUT_MS", "5000")),
            wants,
            int(env.get("KAIROS_MARKET_CONCURRENCY", "16")),
        )
    )
    out: list[Envelope[Any]] = []
    alerts: list[Alert] = []
    failed = [g for g in results if g.error]
    for got in results:
        for k in got.klines:
            assert venue_time is not None
            out.append(raw_kline_event(got.want.symbol, got.want.timeframe, k, venue_time, source))
        for start, end in got.holes:
            gap = store.Gap(VENUE, unified_symbol(got.want.symbol), got.want.timeframe, from_ms(start), from_ms(end))
            if store.record_venue_gap(conn, gap):
                alerts.append(
                    Alert(
                        severity="warning",
                        code="CANDLES_MISSING_AT_VENUE",
                        component=COMPONENT,
                        message=f"{VENUE} has no {gap.timeframe} candles of {gap.symbol}"
                        f" from {gap.start.isoformat()} to {gap.end.isoformat()}",
                        action="import them from another source (`kairos candles import`) or accept the hole",
                        details={"venue": VENUE, "symbol": gap.symbol, "timeframe": gap.timeframe,
                                 "start": gap.start.isoformat(), "end": gap.end.isoformat()},
                    )
                )  # fmt: skip
    if failed:
        log.warning("klines not fetched this tick; the next tick asks again", extra={"failed": len(failed)})
        alerts.append(
            Alert(
                severity="warning",
                code="MARKET_DATA_UNAVAILABLE",
                component=COMPONENT,
                message=f"{len(failed)} of {len(results)} kline requests failed after backoff; retried next minute",
                action="check the venue's status and our network; candles resume from where they stopped",
                details={"failed": [{"symbol": g.want.symbol, "timeframe": g.want.timeframe, "error": g.error}
                                    for g in failed[:20]]},
            )
        )  # fmt: skip
    for i, alert in enumerate(alerts):
        out.append(derive_event(cause, alert, source=source, partition_key=COMPONENT, index=i))
    return out
