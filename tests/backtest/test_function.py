"""The backtest function as the platform runs it: a cmd.run_backtest CloudEvent in, a stored run
and a backtest.completed in the outbox; a bad request answered with the reason and no run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from kairos.backtest import runner
from kairos.contracts.backtest import RunBacktest
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import new_event
from kairos_testkit.events import ping_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics

from tests.backtest.conftest import BTC, START, create_strategy, sma_doc, store_candles, walk

NAME = "backtest"


def command(**changes: Any) -> Any:
    data: dict[str, Any] = {"strategy_id": "sma-test", "symbols": [BTC], "start": START, "balance": "10000",
                            "end": START + timedelta(minutes=400), "requested_by": "test"}  # fmt: skip
    data.update(changes)
    return to_cloudevent(new_event(RunBacktest.model_validate(data), source="/tests", partition_key="sma-test"))


def completions(db: str) -> list[dict[str, Any]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT topic, value FROM outbox WHERE event_type = 'kairos.backtest.completed'"
                            " ORDER BY id").fetchall()  # fmt: skip
    assert {r[0] for r in rows} <= {"event.backtest"}
    return [json.loads(bytes(r[1])) for r in rows]  # binary mode: the value is the data


def test_refuses_event_types_it_does_not_subscribe_to(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        outcome = fn.process(ping_event("/tests/cron/backtest", datetime.now(UTC)))
        assert (outcome.status, outcome.code) == (400, "unexpected_event_type"), outcome.reason


def test_a_request_runs_and_is_announced_a_bad_one_is_answered_with_its_reason(
    db: str, kafka_bootstrap: str
) -> None:
    create_topics(kafka_bootstrap)
    store_candles(db, BTC, walk(400, 3))
    create_strategy(db, sma_doc())
    with in_process(NAME, runtime_env(db, kafka_bootstrap)) as fn:
        ok = fn.process(command())
        bad = fn.process(command(strategy_id="nope"))
        empty = fn.process(command(start=START + timedelta(days=30), end=START + timedelta(days=31)))
    assert (ok.status, bad.status, empty.status) == (204, 204, 204)
    done, refused, missing = completions(db)
    assert done["status"] == "done" and done["candles"] == 400 and done["trades"] > 0
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT status, result_hash FROM backtest_runs").fetchall()
    assert row == [("done", done["result_hash"])]  # the refused requests left no run
    assert refused["status"] == "failed" and "no strategy 'nope'" in refused["error"]
    assert missing["status"] == "failed" and "no 1m candles of BTC/USDT:USDT" in missing["error"]


def test_a_request_carries_its_own_risk_limits_and_an_unknown_limit_is_named(db: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    store_candles(db, BTC, walk(400, 3))
    create_strategy(db, sma_doc())
    with in_process(NAME, runtime_env(db, kafka_bootstrap)) as fn:
        free = fn.process(command())
        # every entry of the strategy is far above a 1 USDT order: the guardian's check refuses each
        capped = fn.process(command(risk_limits={"account": {"max_order_notional": "1"}}))
        bad = fn.process(command(risk_limits={"account": {"max_leverage_x": "3"}}))
    assert (free.status, capped.status, bad.status) == (204, 204, 204)
    done, limited, refused = completions(db)
    assert done["status"] == limited["status"] == "done" and done["trades"] > 0
    assert limited["trades"] == 0 and limited["run_id"] != done["run_id"]
    with psycopg.connect(db) as conn:
        stored = runner.load_result(conn, limited["run_id"])
        runs = conn.execute("SELECT count(*) FROM backtest_runs").fetchone()
    assert stored["request"]["risk_limits"] == {"account": {"max_order_notional": "1"}}
    assert {r["reason_code"] for r in stored["rejections"]} == {"MAX_ORDER_NOTIONAL"}
    assert refused["status"] == "failed" and "not 'max_leverage_x'" in refused["error"]
    assert runs == (2,)  # the refused request left no run
