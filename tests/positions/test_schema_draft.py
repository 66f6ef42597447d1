"""The draft schema on a real Postgres: constraints hold and detection stays fast at 10,000 positions."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg
import pytest
from kairos.positions.queries import DETECT_UNPROTECTED, SCHEDULE_OPEN_POSITIONS, schema_draft

pytestmark = pytest.mark.slow

SEED = """
INSERT INTO positions (position_id, account, venue, symbol, side, status, quantity, peak_quantity, entry_price,
                       opened_at, updated_at, closed_at, mode, revision, projection, unprotected_since)
SELECT 'p' || lpad(g::text, 6, '0'), 'acct-' || (g % 50), 'binanceusdm', 'SYM' || g || '/USDT:USDT',
       CASE WHEN g % 2 = 0 THEN 'LONG' ELSE 'SHORT' END,
       CASE WHEN g > %(open)s THEN 'CLOSED' ELSE 'OPEN' END,
       CASE WHEN g > %(open)s THEN 0 ELSE 1 END, 1, 100,
       now() - interval '1 hour', now(), CASE WHEN g > %(open)s THEN now() END, 'LIVE', 1, '{}'::jsonb,
       CASE WHEN g %% 20 = 0 THEN now() - (g %% 600) * interval '1 second' END
  FROM generate_series(1, %(total)s) AS g
"""


@pytest.fixture
def conn(database_url: str):  # type: ignore[no-untyped-def]
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute(schema_draft())  # type: ignore[arg-type]
        yield c


def test_detection_of_unprotected_among_10000_open_positions_is_indexed_and_under_a_second(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute(SEED.replace("%(open)s", "10000").replace("%(total)s", "30000").replace("%%", "%"))
    conn.execute("VACUUM ANALYZE positions")  # what autovacuum does in production
    params = {"now": datetime.now(UTC), "limit": 10_000}
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        rows = conn.execute(DETECT_UNPROTECTED, params).fetchall()
        timings.append(time.perf_counter() - t0)
    assert len(rows) == 500 and rows[0][1] <= rows[-1][1]
    assert min(timings) < 1.0
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + DETECT_UNPROTECTED, params).fetchall())
    assert "positions_unprotected" in plan
    assert len(conn.execute(SCHEDULE_OPEN_POSITIONS).fetchall()) == 10_000


def test_a_second_open_position_in_the_same_slot_is_refused(conn) -> None:  # type: ignore[no-untyped-def]
    insert = """INSERT INTO positions (position_id, account, venue, symbol, side, status, quantity, peak_quantity,
                entry_price, opened_at, updated_at, mode, revision, projection)
                VALUES (%s, 'a', 'v', 's', 'LONG', 'OPEN', 1, 1, 100, now(), now(), 'LIVE', 1, '{}')"""
    conn.execute(insert, ("one",))
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(insert, ("two",))


def test_closed_status_and_closed_at_go_together(conn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("""INSERT INTO positions (position_id, account, venue, symbol, side, status, quantity,
                        peak_quantity, entry_price, opened_at, updated_at, mode, revision, projection)
                        VALUES ('x', 'a', 'v', 's', 'LONG', 'CLOSED', 0, 1, 100, now(), now(), 'LIVE', 1, '{}')""")
