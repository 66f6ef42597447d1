"""The order lifecycle table: every state x every trigger, in code and in Postgres."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from kairos.execution.client_ids import ALLOWED, PREFIX, client_order_id, is_ours
from kairos.execution.states import (
    FINAL,
    TRANSITIONS,
    IllegalTransition,
    OrderState,
    Trigger,
    next_state,
    triggers_for_venue,
)
from kairos.runtime.db import migrate

S, T = OrderState, Trigger
ALL = list(itertools.product(OrderState, Trigger))

# A legal path from NEW to every state, used to put a real order row in that state.
PATHS: dict[OrderState, list[Trigger]] = {
    S.NEW: [],
    S.SUBMITTED: [T.SUBMIT],
    S.UNKNOWN: [T.SUBMIT, T.TIMEOUT],
    S.OPEN: [T.SUBMIT, T.ACCEPT],
    S.PARTIALLY_FILLED: [T.SUBMIT, T.PARTIAL_FILL],
    S.CANCELING: [T.SUBMIT, T.ACCEPT, T.REQUEST_CANCEL],
    S.FILLED: [T.SUBMIT, T.FILL],
    S.CANCELED: [T.SUBMIT, T.ACCEPT, T.CANCEL],
    S.REJECTED: [T.REJECT],
    S.EXPIRED: [T.SUBMIT, T.EXPIRE],
}


@pytest.mark.parametrize(("state", "trigger"), ALL, ids=[f"{s}-{t}" for s, t in ALL])
def test_every_state_and_trigger_either_moves_by_the_table_or_is_refused(state, trigger):
    if (state, trigger) in TRANSITIONS:
        assert next_state(state, trigger) is TRANSITIONS[(state, trigger)]
    else:
        with pytest.raises(IllegalTransition, match=f"{state} cannot take {trigger}"):
            next_state(state, trigger)


def test_final_states_take_no_trigger_at_all():
    assert not [k for k in TRANSITIONS if k[0] in FINAL]


def test_every_state_is_reachable_from_new_and_every_path_is_legal():
    for target, path in PATHS.items():
        state = S.NEW
        for trig in path:
            state = next_state(state, trig)
        assert state is target


def test_venue_status_maps_to_the_trigger_the_table_allows():
    assert triggers_for_venue(S.SUBMITTED, "NEW", new_fills=False) == [T.ACCEPT]
    assert triggers_for_venue(S.OPEN, "NEW", new_fills=False) == []
    assert triggers_for_venue(S.UNKNOWN, "FILLED", new_fills=True) == [T.FILL]
    assert triggers_for_venue(S.PARTIALLY_FILLED, "PARTIALLY_FILLED", new_fills=False) == []
    assert triggers_for_venue(S.PARTIALLY_FILLED, "PARTIALLY_FILLED", new_fills=True) == [T.PARTIAL_FILL]
    assert triggers_for_venue(S.OPEN, "CANCELED", new_fills=False, expired=True) == [T.EXPIRE]
    assert triggers_for_venue(S.FILLED, "CANCELED", new_fills=False) == []  # final: audited as a conflict
    assert triggers_for_venue(S.NEW, "FILLED", new_fills=True) == []  # NEW was never sent
    assert triggers_for_venue(S.OPEN, "REJECTED", new_fills=False) == []  # not in the table


def test_client_order_ids_are_deterministic_legal_and_recognisable():
    ids = {client_order_id(f"cmd-{i}") for i in range(1000)}
    assert len(ids) == 1000
    for cid in ids:
        assert ALLOWED.match(cid) and len(cid) == 36 and cid.startswith(PREFIX) and is_ours(cid)
    assert client_order_id("x" * 64) == client_order_id("x" * 64)
    assert not is_ours("web_abc") and not is_ours(None)


# --- the database copy --------------------------------------------------------------


def _order(conn: psycopg.Connection, n: int) -> int:
    row = conn.execute(
        "INSERT INTO orders (command_id, client_order_id, account, venue, mode, symbol, side, order_type, quantity,"
        " intent, strategy_id, command_event, state) VALUES (%s, %s, 'a', 'v', 'live', 'BTC/USDT:USDT', 'buy',"
        " 'market', 1, 'entry', 's', '{}', 'NEW') RETURNING id",
        (f"cmd-{n}", f"cid-{n}"),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _apply(conn: psycopg.Connection, order_id: int, seq: int, state: str, trig: str, to: str) -> None:
    conn.execute(
        "INSERT INTO order_events (order_id, seq, event_id, from_state, trigger, to_state, actor)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'test')",
        (order_id, seq, f"e-{order_id}-{seq}", state, trig, to),
    )
    conn.execute("UPDATE orders SET state = %s, seq = %s WHERE id = %s", (to, seq, order_id))


def test_database_table_equals_the_code_table(database_url):
    migrate(database_url)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT from_state, trigger, to_state FROM order_transitions").fetchall()
    assert {(S(a), T(b)): S(c) for a, b, c in rows} == TRANSITIONS


def test_database_refuses_every_illegal_transition_and_accepts_every_legal_one(database_url):
    migrate(database_url)
    refused = accepted = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        for n, (state, trigger) in enumerate(ALL):
            for m, target in enumerate(OrderState):
                oid = _order(conn, n * 100 + m)
                for seq, trig in enumerate(PATHS[state], start=1):
                    prev = S.NEW if seq == 1 else next_state(S.NEW, PATHS[state][0])
                    for t in PATHS[state][1 : seq - 1]:
                        prev = next_state(prev, t)
                    _apply(conn, oid, seq, prev, trig, next_state(prev, trig))
                legal = TRANSITIONS.get((state, trigger)) is target
                try:
                    with conn.transaction():
                        _apply(conn, oid, len(PATHS[state]) + 1, state, trigger, target)
                    accepted += 1
                    assert legal, f"Postgres accepted {state} --{trigger}--> {target}"
                except psycopg.errors.IntegrityError:
                    refused += 1
                    assert not legal, f"Postgres refused the legal {state} --{trigger}--> {target}"
    assert accepted == len(TRANSITIONS)
    assert refused == len(ALL) * len(OrderState) - len(TRANSITIONS)


def test_database_refuses_a_state_change_without_a_legal_pair_and_rewriting_history(database_url):
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        oid = _order(conn, 1)
        with pytest.raises(psycopg.errors.CheckViolation, match="illegal order transition NEW -> FILLED"):
            conn.execute("UPDATE orders SET state = 'FILLED' WHERE id = %s", (oid,))
        _apply(conn, oid, 1, "NEW", "SUBMIT", "SUBMITTED")
        with pytest.raises(psycopg.errors.CheckViolation, match="append-only"):
            conn.execute("UPDATE order_events SET to_state = 'FILLED' WHERE order_id = %s", (oid,))
        with pytest.raises(psycopg.errors.CheckViolation, match="must start in NEW"):
            conn.execute(
                "INSERT INTO orders (command_id, client_order_id, account, venue, mode, symbol, side, order_type,"
                " quantity, intent, strategy_id, command_event, state) VALUES ('c', 'c', 'a', 'v', 'live', 's',"
                " 'buy', 'market', 1, 'entry', 's', '{}', 'FILLED')"
            )
