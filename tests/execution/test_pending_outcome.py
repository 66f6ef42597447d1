"""A trade command whose order outcome is pending is never dead-lettered: the executor
acknowledges it once the order row is durable and finishes the order itself, across
kill -9 restarts, even when the delivery's retry budget is far shorter than the wait."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from kairos.bus.kafka import make_producer, send_records
from kairos.catalog.model import DeliveryPolicy
from kairos.contracts.codec import to_kafka
from kairos.execution.client_ids import client_order_id
from kairos.execution.service import OutcomePending
from kairos.localinfra.ports import free_port
from kairos_testkit.execution import command, db_order, exec_env, runtime, setup_account, venue_orders_by_cid
from kairos_testkit.functions import runtime_env, start_function
from kairos_testkit.served_executor import restart_through_unknown, start_deliveries, start_later
from kairos_testkit.topics import create_topics
from kairos_testkit.waiting import wait_until

#: A budget that runs out long before the venue answers (about half a second).
SHORT = DeliveryPolicy(retry=2, backoff_policy="linear", backoff_delay="PT0.1S", timeout="PT10S")


@pytest.mark.slow
def test_an_unknown_outcome_survives_restarts_and_ends_filled_without_a_dead_letter(
    database_url, sim, kafka_bootstrap, tmp_path
):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    port = free_port()
    fn = start_function("executor", env, tmp_path, port=port)
    deliveries = start_deliveries(kafka_bootstrap, fn.url, policy=SHORT, topics=["cmd.execute_trade"])
    # the order is executed at the venue but its answer is lost, and every lookup fails
    sim.control.set_faults(
        [
            {"kind": "lost_response", "endpoint": "POST /fapi/v1/order", "count": 1, "hold_ms": 6000},
            {"kind": "http_error", "endpoint": "GET /fapi/v1/order", "status": 503},
        ]
    )
    cmd = command(quantity="0.010")
    producer = make_producer(kafka_bootstrap)
    send_records(producer, [("cmd.execute_trade", to_kafka(cmd))])
    producer.close()
    try:
        wait_until(lambda: deliveries.answered() >= 1, timeout=60)
        assert db_order(database_url, cmd.data.command_id)["state"] == "UNKNOWN"
        fn = restart_through_unknown(fn, env, tmp_path, port, sim)  # restarts while the lookups still fail
        wait_until(lambda: db_order(database_url, cmd.data.command_id)["state"] == "FILLED", timeout=60)
    finally:
        deliveries.stop()
        fn.process.kill()
    assert deliveries.dead_lettered() == 0  # acknowledged, not given up
    assert len(venue_orders_by_cid(sim)[client_order_id(cmd.data.command_id)]) == 1  # sent once
    with psycopg.connect(database_url) as conn:
        [(distinct,)] = conn.execute(
            "SELECT count(DISTINCT event_id) FROM outbox WHERE event_type = 'kairos.exec.trade_result'"
        ).fetchall()
    assert distinct == 1  # the command's one result, published by the executor that resolved it


@pytest.mark.slow
def test_readiness_is_503_naming_the_executor_while_recovering(database_url, sim, kafka_bootstrap, tmp_path):
    """RECOVERING is "not ready": 503 (func-python itself would answer 500), with the reason."""
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    sim.control.set_faults([{"kind": "http_error", "endpoint": "POST /fapi/v1/order", "status": 503}])
    cmd = command(quantity="0.010")
    with runtime(database_url) as rt, pytest.raises(OutcomePending):
        rt.service.execute(cmd.data, cmd)  # leaves an order in flight (UNKNOWN)
    sim.control.set_faults([], maintenance=True)  # the venue cannot be asked: recovery waits
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    fn = start_later(env, tmp_path, free_port())
    try:
        seen: list[tuple[int, dict]] = []

        def recovering() -> bool:
            answer = _readiness(fn.url)
            if answer is not None:
                seen.append(answer)
            return answer is not None and "RECOVERING" in answer[1]["reason"]

        wait_until(recovering, timeout=40)
        assert all(status == 503 for status, _ in seen)  # never 500, never ready while recovering
        assert seen[-1][1]["function"] == "executor"
    finally:
        fn.process.kill()
        sim.control.clear_faults()


def _readiness(url: str) -> tuple[int, dict] | None:
    try:
        resp = httpx.get(url + "/health/readiness", timeout=2)
    except httpx.HTTPError:
        return None
    return resp.status_code, resp.json()
