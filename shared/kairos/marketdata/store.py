"""The ``candles`` table and its neighbours: partitions, revisions, COPY, subscriptions, gaps.

A candle is never overwritten: the same values again change nothing, different values for
an open time already stored become the next revision. Monthly partitions are created
before rows need them (``ensure_partitions``), under an advisory lock so concurrent
writers do not race on the DDL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from kairos.contracts.market_data import Candle

PARTITION_LOCK_ID = 0x6B61_6972_6F73_6364  # "kairoscd"
_known_months: set[tuple[tuple[str, int, str], tuple[int, int]]] = set()  # (database, month)

COLUMNS = (
    "venue", "symbol", "timeframe", "open_time", "revision", "close_time", "open", "high", "low", "close",
    "volume", "quote_volume", "trades", "origin",
)  # fmt: skip


def _month(d: datetime) -> tuple[int, int]:
    d = d.astimezone(UTC)
    return d.year, d.month


def _months(first: datetime, last: datetime) -> list[tuple[int, int]]:
    y, m = _month(first)
    end = _month(last)
    out = []
    while (y, m) <= end:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def ensure_partitions(conn: psycopg.Connection, first: datetime, last: datetime) -> int:
    """Create the monthly partitions covering [first, last] that do not exist yet.

    Runs in the caller's transaction (a rollback takes a new partition with it), so only
    partitions seen committed are remembered; the rest are looked up again next time.
    """
    db = (conn.info.host, conn.info.port, conn.info.dbname)
    missing = [ym for ym in _months(first, last) if (db, ym) not in _known_months]
    if not missing:
        return 0
    names = {f"candles_y{y:04d}m{m:02d}": (y, m) for y, m in missing}
    existing = {
        r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE relname = ANY(%s)", (list(names),)).fetchall()
    }
    _known_months.update((db, names[n]) for n in existing)
    todo = [n for n in names if n not in existing]
    if todo:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK_ID,))
        for name in todo:
            y, m = names[name]
            ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF candles"  # name built from integers only
                f" FOR VALUES FROM ('{y:04d}-{m:02d}-01 00:00+00') TO ('{ny:04d}-{nm:02d}-01 00:00+00')"
            )
    return len(todo)


@dataclass(frozen=True)
class Stored:
    """What storing one candle did: ``revision`` stored, or None when it was already there."""

    revision: int | None
    previous: int | None


LATEST = (
    "SELECT revision, open, high, low, close, volume FROM candles"
    " WHERE venue = %s AND symbol = %s AND timeframe = %s AND open_time = %s ORDER BY revision DESC LIMIT 1"
)


def store_candle(conn: psycopg.Connection, c: Candle, origin: str = "venue") -> Stored:
    """Insert ``c`` as revision 1, as the next revision if it differs from the latest, or not at all.

    Must run inside the caller's transaction. A concurrent writer of the same open time
    makes the insert conflict: raised as ``psycopg.errors.UniqueViolation`` (a retry sees it).
    """
    ensure_partitions(conn, c.open_time, c.open_time)
    row = conn.execute(LATEST, (c.venue, c.symbol, c.timeframe, c.open_time)).fetchone()
    if row is not None:
        same = tuple(Decimal(x) for x in row[1:]) == (c.open, c.high, c.low, c.close, c.volume)
        if same:
            return Stored(None, int(row[0]))
    revision = 1 if row is None else int(row[0]) + 1
    conn.execute(
        f"INSERT INTO candles ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})",
        (c.venue, c.symbol, c.timeframe, c.open_time, revision, c.close_time, c.open, c.high, c.low, c.close,
         c.volume, c.quote_volume, c.trades, origin),
    )  # fmt: skip
    conn.execute(
        "UPDATE market_subscriptions SET last_open_time = %s WHERE venue = %s AND symbol = %s AND timeframe = %s"
        " AND (last_open_time IS NULL OR last_open_time < %s)",
        (c.open_time, c.venue, c.symbol, c.timeframe, c.open_time),
    )
    return Stored(revision, None if row is None else int(row[0]))


Row = tuple[datetime, datetime, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal | None, int | None]
"""open time, close time, open, high, low, close, volume, quote volume, trades"""


COPY_COLUMNS = (
    "open_time", "close_time", "open", "high", "low", "close", "volume", "quote_volume", "trades",
    "venue", "symbol", "timeframe", "revision", "origin",
)  # fmt: skip
COPY_TYPES = (
    "timestamptz", "timestamptz", "numeric", "numeric", "numeric", "numeric", "numeric", "numeric", "int8",
    "text", "text", "text", "int4", "text",
)  # fmt: skip


def _copy(cur: psycopg.Cursor[Any], table: str, rows: Sequence[Row], tail: tuple[object, ...]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(COPY_TYPES)
        for r in rows:
            copy.write_row((*r, *tail))


def copy_new_candles(
    conn: psycopg.Connection, venue: str, symbol: str, timeframe: str, rows: Sequence[Row], origin: str
) -> int:
    """Bulk-store candles with COPY; open times already stored are left alone. Returns rows added.

    When nothing of the series is stored in the rows' time range (a backfill into new
    history), the rows are copied straight into ``candles``; otherwise through a temporary
    table and one INSERT ... SELECT that skips open times already there (any revision), so
    re-running a backfill or an import over stored history is a no-op. Rows must be sorted
    by open time. Runs in the caller's transaction.
    """
    if not rows:
        return 0
    first, last = rows[0][0], rows[-1][0]
    ensure_partitions(conn, first, last)
    tail = (venue, symbol, timeframe, 1, origin)
    taken = conn.execute(
        "SELECT 1 FROM candles WHERE venue = %s AND symbol = %s AND timeframe = %s"
        " AND open_time BETWEEN %s AND %s LIMIT 1",
        (venue, symbol, timeframe, first, last),
    ).fetchone()
    with conn.cursor() as cur:
        if taken is None:
            _copy(cur, "candles", rows, tail)
            return len(rows)
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS candles_incoming (LIKE candles INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        _copy(cur, "candles_incoming", rows, tail)
        cur.execute(
            f"INSERT INTO candles ({', '.join(COLUMNS)}) SELECT {', '.join('i.' + c for c in COLUMNS)}"
            " FROM candles_incoming i WHERE NOT EXISTS (SELECT 1 FROM candles c WHERE c.venue = i.venue"
            " AND c.symbol = i.symbol AND c.timeframe = i.timeframe AND c.open_time = i.open_time)"
            " ON CONFLICT DO NOTHING"
        )
        added = cur.rowcount
        cur.execute("TRUNCATE candles_incoming")
    return added


# --- subscriptions -------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    venue: str
    symbol: str
    timeframe: str
    since: datetime
    last_open_time: datetime | None


def subscribe(conn: psycopg.Connection, venue: str, symbol: str, timeframe: str, since: datetime) -> bool:
    """Add a subscription (True) or leave an existing one as it is (False)."""
    cur = conn.execute(
        "INSERT INTO market_subscriptions (venue, symbol, timeframe, since) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (venue, symbol, timeframe, since),
    )
    return cur.rowcount == 1


def unsubscribe(conn: psycopg.Connection, venue: str, symbol: str, timeframe: str | None = None) -> int:
    cur = conn.execute(
        "DELETE FROM market_subscriptions WHERE venue = %s AND symbol = %s AND (%s::text IS NULL OR timeframe = %s)",
        (venue, symbol, timeframe, timeframe),
    )
    return cur.rowcount


def subscriptions(conn: psycopg.Connection, venue: str | None = None) -> list[Subscription]:
    rows = conn.execute(
        "SELECT venue, symbol, timeframe, since, last_open_time FROM market_subscriptions"
        " WHERE %s::text IS NULL OR venue = %s ORDER BY venue, symbol, timeframe",
        (venue, venue),
    ).fetchall()
    return [Subscription(*r) for r in rows]


# --- gaps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """Candles missing between two stored ones: [start, end) of open times."""

    venue: str
    symbol: str
    timeframe: str
    start: datetime
    end: datetime
    venue_missing: bool = False


PG_INTERVAL = {
    "1s": "1 second", "1m": "1 minute", "3m": "3 minutes", "5m": "5 minutes", "15m": "15 minutes",
    "30m": "30 minutes", "1h": "1 hour", "2h": "2 hours", "4h": "4 hours", "6h": "6 hours", "8h": "8 hours",
    "12h": "12 hours", "1d": "1 day", "3d": "3 days", "1w": "7 days", "1M": "1 month",
}  # fmt: skip

GAPS = """
SELECT prev + %(step)s::interval AS gap_start, open_time AS gap_end FROM (
    SELECT open_time, lag(open_time) OVER (ORDER BY open_time) AS prev FROM (
        SELECT DISTINCT open_time FROM candles
        WHERE venue = %(venue)s AND symbol = %(symbol)s AND timeframe = %(tf)s
          AND open_time >= %(start)s AND (%(end)s::timestamptz IS NULL OR open_time <= %(end)s)
    ) d
) w WHERE prev IS NOT NULL AND prev + %(step)s::interval < open_time ORDER BY gap_start
"""


def gaps(
    conn: psycopg.Connection,
    venue: str,
    symbol: str,
    timeframe: str,
    start: datetime,
    end: datetime | None = None,
) -> list[Gap]:
    """Holes between stored candles from ``start`` (to ``end``); holes the venue itself lacks are marked."""
    rows = conn.execute(
        GAPS, {"step": PG_INTERVAL[timeframe], "venue": venue, "symbol": symbol, "tf": timeframe,
               "start": start, "end": end},
    ).fetchall()  # fmt: skip
    known = {
        r[0]
        for r in conn.execute(
            "SELECT gap_start FROM candle_gaps WHERE venue = %s AND symbol = %s AND timeframe = %s",
            (venue, symbol, timeframe),
        ).fetchall()
    }
    return [Gap(venue, symbol, timeframe, s, e, s in known) for s, e in rows]


def record_venue_gap(conn: psycopg.Connection, gap: Gap) -> bool:
    """Remember a hole the venue could not fill; True the first time (alert then)."""
    cur = conn.execute(
        "INSERT INTO candle_gaps (venue, symbol, timeframe, gap_start, gap_end) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (gap.venue, gap.symbol, gap.timeframe, gap.start, gap.end),
    )
    return cur.rowcount == 1
