"""Rate limits shared by every API instance: fixed windows counted in Postgres.

Each request adds one hit to its bucket's current window (``user:<name>`` and
``addr:<ip>``) in one upsert; above the limit the answer is 429 with ``Retry-After`` = the
seconds until the window ends. Counting in Postgres (an unlogged table) rather than in
memory is what makes the limit hold when Knative runs several instances.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class Limit:
    requests: int
    window_s: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int
    db_now: datetime | None = None  # the database's clock at the hit (``hit_all``): a read's "as of"


_HIT = (
    "INSERT INTO api_rate_windows (bucket, window_start, hits) VALUES (%s, to_timestamp(%s), 1) "
    "ON CONFLICT (bucket, window_start) DO UPDATE SET hits = api_rate_windows.hits + 1 RETURNING hits"
)


def hit(conn: psycopg.Connection, bucket: str, limit: Limit, now: float | None = None) -> Verdict:
    at = time.time() if now is None else now
    start = math.floor(at / limit.window_s) * limit.window_s
    row = conn.execute(_HIT, (bucket, start)).fetchone()
    hits = int(row[0]) if row else 1
    if hits <= limit.requests:
        return Verdict(True, 0)
    return Verdict(False, max(1, math.ceil(start + limit.window_s - at)))


def prune(conn: psycopg.Connection, older_than_s: int = 3600) -> None:
    conn.execute("DELETE FROM api_rate_windows WHERE window_start < now() - make_interval(secs => %s)", (older_than_s,))


def hit_all(conn: psycopg.Connection, buckets: list[tuple[str, Limit]], now: float | None = None) -> Verdict:
    """One hit in each bucket in ONE statement (a request's address and user); the strictest verdict.

    The statement also returns the database's clock, so a read that follows on the same
    connection needs no statement of its own for its "as of"."""
    at = time.time() if now is None else now
    starts = {b: math.floor(at / lim.window_s) * lim.window_s for b, lim in buckets}
    rows = conn.execute(
        "INSERT INTO api_rate_windows (bucket, window_start, hits)"
        " SELECT b, to_timestamp(s), 1 FROM unnest(%s::text[], %s::float8[]) AS u(b, s)"
        " ON CONFLICT (bucket, window_start) DO UPDATE SET hits = api_rate_windows.hits + 1"
        " RETURNING bucket, hits, now()",
        ([b for b, _ in buckets], [starts[b] for b, _ in buckets]),
    ).fetchall()
    hits = {str(r[0]): int(r[1]) for r in rows}
    db_now = rows[0][2] if rows else None
    worst = Verdict(True, 0, db_now)
    for bucket, lim in buckets:
        if hits.get(bucket, 1) > lim.requests:
            wait = max(1, math.ceil(starts[bucket] + lim.window_s - at))
            worst = Verdict(False, max(worst.retry_after_s, wait), db_now)
    return worst
