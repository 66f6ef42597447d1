"""Candle timeframes and where their buckets start, as Binance defines them.

Fixed timeframes are aligned to the Unix epoch, except ``1w`` (Mondays 00:00 UTC) and
``1M`` (the first of each calendar month, so its length varies). A candle whose open time
is not a bucket start is misaligned: normalize refuses it.
"""

from __future__ import annotations

from datetime import UTC, datetime

TIMEFRAME_MS: dict[str, int] = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000, "1M": 2_592_000_000,
}  # fmt: skip
"""Nominal length of each timeframe (``1M`` is a calendar month: 30 d is only nominal)."""

WEEK_MS = 7 * 86_400_000
MONDAY_OFFSET_MS = 4 * 86_400_000  # 1970-01-01 was a Thursday


def check(timeframe: str) -> str:
    """``timeframe`` if known, else ValueError listing the known ones."""
    if timeframe not in TIMEFRAME_MS:
        raise ValueError(f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAME_MS)}")
    return timeframe


def bucket_open(t: int, timeframe: str) -> int:
    """The open time (ms) of the ``timeframe`` bucket containing ``t`` (ms)."""
    if timeframe == "1M":
        d = datetime.fromtimestamp(t / 1000, UTC)
        return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)
    if timeframe == "1w":
        return (t - MONDAY_OFFSET_MS) // WEEK_MS * WEEK_MS + MONDAY_OFFSET_MS
    ms = TIMEFRAME_MS[timeframe]
    return t // ms * ms


def next_open(t: int, timeframe: str) -> int:
    """The open time of the bucket after the one opening at ``t``."""
    if timeframe == "1M":
        d = datetime.fromtimestamp(t / 1000, UTC)
        year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)
    return t + TIMEFRAME_MS[timeframe]


def aligned(t: int, timeframe: str) -> bool:
    return bucket_open(t, timeframe) == t


def to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
