"""The candles a backtest runs on, read from Postgres, and their data version.

A backtest reads the latest revision of every candle of (venue, symbol, timeframe) opening in
[start, end). The data version is a sha256 over the symbol names and the exact values used
(open times as int64 ms, prices and volumes as float64, little-endian): the same stored
candles give the same version in every process; a revised or added candle changes it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np
import psycopg

from kairos.strategies.indicators import Candles

_SQL = (
    "SELECT (extract(epoch FROM open_time) * 1000)::int8, open::float8, high::float8, low::float8,"
    " close::float8, volume::float8 FROM ("
    "  SELECT DISTINCT ON (open_time) open_time, open, high, low, close, volume FROM candles"
    "  WHERE venue = %s AND symbol = %s AND timeframe = %s AND open_time >= %s AND open_time < %s"
    "  ORDER BY open_time, revision DESC) w ORDER BY open_time"
)


def load(conn: psycopg.Connection, venue: str, symbol: str, timeframe: str, start: datetime, end: datetime) -> Candles:
    """Candles opening in [start, end), oldest first (latest revision of each)."""
    with conn.cursor(binary=True) as cur:
        cur.execute(_SQL, (venue, symbol, timeframe, start, end))
        rows = cur.fetchall()
    if not rows:
        empty = np.empty(0)
        return Candles(np.empty(0, dtype=np.int64), empty, empty, empty, empty, empty)
    arr = np.array(rows, dtype=np.float64)
    times = np.array([r[0] for r in rows], dtype=np.int64)
    return Candles(times, arr[:, 1].copy(), arr[:, 2].copy(), arr[:, 3].copy(), arr[:, 4].copy(), arr[:, 5].copy())


def version(series: dict[str, Candles]) -> str:
    """sha256 of the exact candles, by symbol in sorted order."""
    h = hashlib.sha256()
    for symbol in sorted(series):
        c = series[symbol]
        h.update(symbol.encode() + b"\x00")
        h.update(np.ascontiguousarray(c.open_time, dtype="<i8").tobytes())
        for a in (c.open, c.high, c.low, c.close, c.volume):
            h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()
