"""A served executor behind the real KafkaSource delivery with a retry budget far shorter
than the venue's silence: a cancel and an amend whose cancel replies are lost (and every
lookup fails) are acknowledged, do not hold up the next command of their partition, survive
kill -9 restarts, and end with one cancel per target and one replacement at the venue."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from kairos.bus.kafka import make_producer, send_records
from kairos.catalog.model import DeliveryPolicy
from kairos.contracts.codec import to_kafka
from kairos.contracts.commands import AmendOrder, CancelOrder
from kairos.contracts.envelope import new_event
from kairos.localinfra.ports import free_port
from kairos_testkit.execution import (
    ACCOUNT,
    SYMBOL,
    command,
    db_order,
    drive,
    exec_env,
    runtime,
    setup_account,
    venue_orders_by_cid,
)
from kairos_testkit.functions import runtime_env, start_function
from kairos_testkit.served_executor import restart_through_unknown, start_deliveries
from kairos_testkit.topics import create_topics
from kairos_testkit.waiting import wait_until

#: A budget that runs out long before the venue answers (about half a second).
SHORT = DeliveryPolicy(retry=2, backoff_policy="linear", backoff_delay="PT0.1S", timeout="PT10S")
KEY = f"{ACCOUNT}|{SYMBOL}"


def _fields(target) -> dict:
    d = target.data
    return {"target_command_id": d.command_id, "account": d.account, "venue": d.venue, "symbol": d.symbol,
            "strategy_id": "s-test"}  # fmt: skip


@pytest.mark.slow
def test_pending_cancel_and_amend_survive_kill_9_without_a_dead_letter_or_a_duplicate(
    database_url, sim, kafka_bootstrap, tmp_path
):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    a = command(order_type="limit", limit_price=Decimal("59000"))
    b = command(order_type="limit", limit_price=Decimal("58000"))
    with runtime(database_url) as rt:
        drive(rt, a)
        drive(rt, b)
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    port = free_port()
    fn = start_function("executor", env, tmp_path, port=port)
    deliveries = start_deliveries(kafka_bootstrap, fn.url, policy=SHORT)
    # both cancels are executed at the venue but their answers are lost, and every lookup fails
    sim.control.set_faults(
        [
            {"kind": "lost_response", "endpoint": "DELETE /fapi/v1/order", "count": 2, "hold_ms": 3000},
            {"kind": "http_error", "endpoint": "GET /fapi/v1/order", "status": 503},
        ]
    )
    cancel = new_event(CancelOrder(command_id="cancel-s-0001", reason="test", **_fields(a)), source="/tests",
                       partition_key=KEY)  # fmt: skip
    amend = new_event(AmendOrder(command_id="amend-s-0001", limit_price=Decimal("58500"), **_fields(b)),
                      source="/tests", partition_key=KEY)  # fmt: skip
    later = command(quantity="0.002")  # a market order on the same partition key, after them
    producer = make_producer(kafka_bootstrap)
    send_records(producer, [("cmd.cancel_order", to_kafka(cancel)), ("cmd.amend_order", to_kafka(amend))])
    send_records(producer, [("cmd.execute_trade", to_kafka(later))])
    producer.close()

    try:
        wait_until(lambda: deliveries.answered() >= 3, timeout=60, message="the three commands were answered")
        assert db_order(database_url, later.data.command_id)["state"] == "FILLED"  # not held up
        assert db_order(database_url, a.data.command_id)["state"] == "CANCELING"
        assert db_order(database_url, amend.data.command_id)["state"] == "NEW"  # waits for its target
        fn = restart_through_unknown(fn, env, tmp_path, port, sim)  # restarts while the lookups still fail
        wait_until(lambda: db_order(database_url, amend.data.command_id)["state"] == "OPEN", timeout=60)
    finally:
        deliveries.stop()
        fn.process.kill()
    assert deliveries.dead_lettered() == 0  # acknowledged, not given up
    assert db_order(database_url, a.data.command_id)["state"] == "CANCELED"
    assert db_order(database_url, b.data.command_id)["state"] == "CANCELED"
    deletes = [r for r in sim.control.audit() if r["path"] == "/fapi/v1/order" and r["method"] == "DELETE"]
    assert len(deletes) == 2  # one cancel per target, never repeated
    replacement = venue_orders_by_cid(sim)[db_order(database_url, amend.data.command_id)["cid"]]
    assert len(replacement) == 1 and Decimal(replacement[0]["price"]) == Decimal("58500")
    with psycopg.connect(database_url) as conn:
        [(rows, distinct)] = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM outbox WHERE event_type = 'kairos.exec.trade_result'"
            " AND convert_from(value, 'UTF8')::jsonb ->> 'command_id' = ANY(%s)",
            ([a.data.command_id, b.data.command_id],),
        ).fetchall()
    assert (rows, distinct) == (2, 2)  # each target's CANCELED result, published once
