"""The engine on the simulator's candles: fires exactly where an independent computation says,
once per (strategy version, symbol, candle), never while stopped, stopped by recovery."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest
from kairos.strategies import store
from kairos_testkit.strategies import (
    BTC,
    ETH,
    LIVE,
    SHADOW,
    candle_events,
    create_and_start,
    example,
    feed,
    migrated,
    of_type,
    with_doc,
)
from kairos_testkit.venue_sim import VenueSimHandle


def sma(xs: list[float], p: int, i: int) -> float:
    return sum(xs[i - p + 1 : i + 1]) / p


def expected_crosses(closes: list[float], fast: int, slow: int) -> list[tuple[int, str]]:
    """(bar, action) of every fast/slow cross, by hand, with the position the strategy would hold."""
    out, position = [], None
    for i in range(slow, len(closes)):
        f0, s0, f1, s1 = sma(closes, fast, i - 1), sma(closes, slow, i - 1), sma(closes, fast, i), sma(closes, slow, i)
        if f0 <= s0 and f1 > s1:
            out.append((i, "enter_long"))
            position = "long"
        elif f0 >= s0 and f1 < s1:
            out.append((i, "enter_short"))
            position = "short"
    assert position is not None
    return out


def test_sma_crossover_fires_exactly_at_the_simulators_crossing_candles(db: str, sim: VenueSimHandle) -> None:
    spec = with_doc(example("sma-crossover"), account=SHADOW, universe={"venue": "binanceusdm", "symbols": [BTC],
                                                                        "timeframe": "1m"})  # fmt: skip
    create_and_start(db, spec)
    candles = candle_events(db, sim)
    assert len(candles) >= 250
    out = feed(db, candles)
    closes = [float(c.data.close) for c in candles]
    want = [(candles[i].data.open_time, action) for i, action in expected_crosses(closes, 5, 20)]
    signals = of_type(out, "signal.generated")
    assert [(s.candle_open_time, s.action) for s in signals] == want
    assert len(want) >= 3
    intents = of_type(out, "cmd.order_intent")
    assert [i.signal_id for i in intents] == [s.signal_id for s in signals]
    first, second = intents[0], intents[1]
    assert first.kind == "entry" and not first.reduce_only and first.account == SHADOW
    assert first.quantity == (Decimal(200) / first.price_reference).quantize(Decimal("0.000001"), rounding="ROUND_DOWN")
    assert second.kind == "reverse" and second.quantity > first.quantity  # closes the first and opens the other side
    assert signals[0].values.keys() == {"close", "fast", "slow"} and signals[0].rule.startswith("rules.")


def test_warm_up_is_the_strategys_status_and_nothing_fires_before(db: str, sim: VenueSimHandle) -> None:
    create_and_start(db, with_doc(example("bollinger-breakout"), account=SHADOW))
    candles = candle_events(db, sim)
    out = feed(db, candles[:20])
    assert of_type(out, "signal.generated") == []
    with psycopg.connect(db) as conn:
        status = store.symbols(conn, "bollinger-breakout")
    assert [(s[0], s[3], s[4]) for s in status if s[0] == BTC] == [(BTC, 20, 35)]


@pytest.mark.slow
def test_a_replayed_or_revised_candle_stream_yields_nothing_twice_and_a_fresh_replay_the_same(
    db: str, sim: VenueSimHandle, new_database: Callable[[str], str]
) -> None:
    spec = with_doc(example("rsi-mean-reversion"), account=LIVE)
    create_and_start(db, spec)
    candles = candle_events(db, sim, (BTC, ETH))
    first = feed(db, candles)
    assert of_type(first, "cmd.order_intent")
    assert feed(db, candles) == []  # redelivered / replayed: nothing
    assert feed(db, candles[-40:]) == []
    with psycopg.connect(db) as conn:
        decisions = conn.execute("SELECT count(*), count(DISTINCT intent_id) FROM strategy_decisions").fetchone()
    assert decisions == (len(of_type(first, "cmd.order_intent")),) * 2
    # the same stream into a fresh system: identical signals and intents, ids included
    other = migrated(new_database("replay"))
    create_and_start(other, spec)
    again = feed(other, candle_events(other, sim, (BTC, ETH)))
    assert [(e.meta.id, e.data) for e in again] == [(e.meta.id, e.data) for e in first]


@pytest.mark.slow
def test_a_stopped_strategy_emits_nothing_and_a_restart_decides_on_newer_candles(db: str, sim: VenueSimHandle) -> None:
    spec = with_doc(example("sma-crossover"), account=SHADOW)
    create_and_start(db, spec)
    candles = candle_events(db, sim)
    with psycopg.connect(db) as conn:
        stopped = store.stop(conn, spec.name, "test", "enough")
        conn.commit()
    assert stopped is not None and stopped.data.reason == "enough" and stopped.meta.type == "kairos.strategy.stopped"
    assert feed(db, candles) == []
    with psycopg.connect(db) as conn:
        assert store.stop(conn, spec.name, "test") is None  # already stopped: no event
        started = store.start(conn, spec.name, None, "test")
        conn.commit()
    assert started.data.mode == "SHADOW" and started.data.strategy_version == 1
    assert feed(db, candles) == []  # the stored history is not traded after a start
    sim.control.step(ticks=600)  # ten minutes more: the strategy decides on those candles
    newer = candle_events(db, sim)
    assert len(newer) == 10 and newer[0].data.open_time > candles[-1].data.open_time
    out = feed(db, newer)
    with psycopg.connect(db) as conn:
        assert [s[5] for s in store.symbols(conn, spec.name) if s[0] == BTC] == [newer[-1].data.open_time]
    assert all(e.data.strategy_version == 1 for e in out)
    with psycopg.connect(db) as conn:
        events = conn.execute("SELECT event, actor FROM strategy_events ORDER BY id").fetchall()
    assert events == [("started", "test"), ("stopped", "test"), ("started", "test")]


@pytest.mark.slow
def test_after_the_executors_recovery_every_strategy_is_stopped_until_started(db: str, sim: VenueSimHandle) -> None:
    a, b = with_doc(example("sma-crossover"), account=SHADOW), with_doc(example("rsi-mean-reversion"), account=LIVE)
    create_and_start(db, a)
    create_and_start(db, b)
    candles = candle_events(db, sim)
    half = len(candles) // 2
    assert of_type(feed(db, candles[:half]), "signal.generated")
    with psycopg.connect(db, autocommit=True) as conn:  # what the execution service writes after recovery
        conn.execute("INSERT INTO strategy_control (scope, stopped, reason, updated_by) VALUES ('all', true,"
                     " 'recovered 1 order in flight', 'executor')")  # fmt: skip
    out = feed(db, candles[half:])
    stopped = of_type(out, "strategy.stopped")
    assert sorted((s.strategy_id, s.actor) for s in stopped) == sorted([(a.name, "recovery"), (b.name, "recovery")])
    assert of_type(out, "signal.generated") == [] and of_type(out, "cmd.order_intent") == []
    with psycopg.connect(db) as conn:
        assert {r.strategy_id: r.state for r in store.rows(conn)} == {a.name: "STOPPED", b.name: "STOPPED"}
        store.start(conn, a.name, None, "operator")
        conn.commit()
    assert feed(db, candles[half:]) == []  # history at its start: not traded
    with psycopg.connect(db) as conn:
        assert {r.strategy_id: r.state for r in store.rows(conn)} == {a.name: "RUNNING", b.name: "STOPPED"}


def test_versions_are_immutable_and_an_edit_is_a_new_version(db: str) -> None:
    spec = with_doc(example("sma-crossover"), account=SHADOW)
    with psycopg.connect(db) as conn:
        assert store.create(conn, spec, "t") == (1, True)
        assert store.create(conn, spec, "t") == (1, False)
        assert store.create(conn, with_doc(spec, description="faster"), "t") == (2, True)
        conn.commit()
    with psycopg.connect(db) as conn:
        try:
            conn.execute("UPDATE strategy_versions SET document = '{}' WHERE version = 1")
        except psycopg.errors.RaiseException as exc:
            assert "immutable" in str(exc)
        else:
            raise AssertionError("a stored version was changed")


def test_start_refuses_an_unregistered_account(db: str) -> None:
    spec = with_doc(example("sma-crossover"), account="nobody")
    with psycopg.connect(db) as conn:
        store.create(conn, spec, "t")
        try:
            store.start(conn, spec.name, None, "t")
        except store.StrategyError as exc:
            assert "nobody" in str(exc)
        else:
            raise AssertionError("started on an unknown account")



def test_a_kill_switch_on_one_strategy_stops_only_that_one_and_resume_starts_nothing(db: str) -> None:
    a, b = with_doc(example("sma-crossover"), account=SHADOW), with_doc(example("rsi-mean-reversion"), account=LIVE)
    create_and_start(db, a)
    create_and_start(db, b)
    with psycopg.connect(db) as conn:  # what `kairos control stop --scope sma-crossover` writes
        conn.execute("INSERT INTO strategy_control (scope, stopped, reason, updated_by)"
                     " VALUES (%s, true, 'halt', 'ops')", (a.name,))  # fmt: skip
        events = store.apply_recovery_stop(conn)
        assert [(e.data.strategy_id, e.data.actor) for e in events] == [(a.name, "strategy_control (ops)")]
        assert store.apply_recovery_stop(conn) == []  # applied once
        conn.execute("UPDATE strategy_control SET stopped = false, updated_at = now()")  # resume
        assert {r.strategy_id: r.state for r in store.rows(conn)} == {a.name: "STOPPED", b.name: "RUNNING"}
