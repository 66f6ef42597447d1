"""The positions schema (migration 0010) on a real Postgres: constraints hold, detection stays fast at
10,000 positions, and the queries of ``kairos.positions.queries`` run against it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from kairos.positions.queries import DETECT_UNPROTECTED, SCHEDULE_OPEN_POSITIONS
from kairos.runtime.db import apply_migrations

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
        apply_migrations(c)  # type: ignore[arg-type]
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


def test_protective_orders_join_with_the_execution_services_orders_into_views(database_url: str) -> None:
    from kairos.positions.model import OrderState, ProtectiveKind, ProtectiveOrder
    from kairos.positions.queries import LINK_PROTECTIVE_ORDER, PROTECTIVE_ORDERS
    from psycopg.rows import dict_row

    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as c:
        apply_migrations(c)  # type: ignore[arg-type]  # the execution service's orders/fills (0003), positions (0010)
        c.execute("""INSERT INTO positions (position_id, account, venue, symbol, side, status, quantity,
                     peak_quantity, entry_price, opened_at, updated_at, mode, revision, projection)
                     VALUES ('pos-1', 'a', 'v', 's', 'LONG', 'OPEN', 1, 1, 100, now(), now(), 'LIVE', 1, '{}')""")
        for cmd, kind, level, otype, stop, act, cb in [
            ("cmd-tp-0001", "TP", 0, "take_profit_market", 110, None, None),
            ("cmd-sl-0001", "SL", None, "stop_market", 90, None, None),
            ("cmd-tr-0001", "TRAILING", None, "trailing_stop_market", None, 105, 1),
            ("cmd-tp-0002", "TP", 1, "take_profit_market", 120, None, None),  # linked, not yet an order
        ]:
            link = {"command_id": cmd, "position_id": "pos-1", "kind": kind, "tp_level": level}
            c.execute(LINK_PROTECTIVE_ORDER, link)
            if cmd == "cmd-tp-0002":
                continue
            c.execute("""INSERT INTO orders (command_id, client_order_id, account, venue, mode, symbol, side,
                         order_type, quantity, stop_price, activation_price, callback_rate, reduce_only, intent,
                         strategy_id, command_event, state)
                         VALUES (%s, %s, 'a', 'v', 'live', 's', 'sell', %s, 1, %s, %s, %s, true, 'protective', 'st',
                                 '{}', 'NEW')""", (cmd, "c" + cmd, otype, stop, act, cb))
            c.execute("UPDATE orders SET state = 'SUBMITTED' WHERE command_id = %s", (cmd,))
            c.execute("UPDATE orders SET state = 'OPEN' WHERE command_id = %s", (cmd,))
        c.execute("""INSERT INTO fills (order_id, account, venue, venue_trade_id, quantity, price, traded_at)
                     SELECT id, 'a', 'v', 'T1', 0.25, 110, now() FROM orders WHERE command_id = 'cmd-tp-0001'""")
        c.execute("UPDATE orders SET state = 'PARTIALLY_FILLED' WHERE command_id = 'cmd-tp-0001'")
        views = [ProtectiveOrder.model_validate(r) for r in c.execute(PROTECTIVE_ORDERS, {"position_id": "pos-1"})]
    assert [(v.kind, v.level, v.status, v.price, v.open_quantity) for v in views] == [
        (ProtectiveKind.TP, 0, OrderState.PARTIALLY_FILLED, 110, Decimal("0.75")),
        (ProtectiveKind.SL, None, OrderState.OPEN, 90, 1),
        (ProtectiveKind.TRAILING, None, OrderState.OPEN, 105, 1),
    ]
    assert views[2].callback_rate == 1 and views[0].command_id == "cmd-tp-0001"
