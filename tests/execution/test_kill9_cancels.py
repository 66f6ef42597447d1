"""kill -9 of the executor at random moments while cancels and amends flow through the real
KafkaSource delivery, then restart: every target ends CANCELED after exactly one cancel at
the venue, every amend has exactly one replacement, nothing is dead-lettered, and each
outcome is published once."""

from __future__ import annotations

import os
import random
import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kairos.bus.kafka import make_producer, send_records
from kairos.contracts.codec import to_kafka
from kairos.contracts.commands import AmendOrder, CancelOrder
from kairos.contracts.envelope import Envelope, new_event
from kairos.localinfra.ports import free_port
from kairos_testkit.execution import command, db_order, drive, exec_env, runtime, setup_account, venue_orders_by_cid
from kairos_testkit.functions import runtime_env, start_function
from kairos_testkit.served_executor import start_deliveries
from kairos_testkit.topics import create_topics
from kairos_testkit.waiting import wait_until

N_TARGETS = int(os.environ.get("KAIROS_KILL9_CANCEL_TARGETS", "40"))  # half canceled, half amended
KILLS = int(os.environ.get("KAIROS_KILL9_CANCEL_KILLS", "4"))
# a third of the cancel replies are lost after the venue executed them, a third of the lookups fail
FAULTS = [
    {"kind": "lost_response", "endpoint": "DELETE /fapi/v1/order", "probability": 0.3, "hold_ms": 1500},
    {"kind": "http_error", "endpoint": "GET /fapi/v1/order", "probability": 0.3, "status": 503},
]
FAR = {"BTC/USDT:USDT": ("0.002", "50000", "50500"), "ETH/USDT:USDT": ("0.010", "2500", "2550")}


def _count(database_url: str, sql: str) -> int:
    with psycopg.connect(database_url) as conn:
        r = conn.execute(sql).fetchone()
    return int(r[0]) if r else 0


@pytest.mark.slow
def test_kill_9_during_cancels_and_amends_duplicates_and_loses_nothing(database_url, sim, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    sim.control.set_price("ETHUSDT", "3000")
    targets = []
    with runtime(database_url) as rt:
        for i in range(N_TARGETS):
            symbol = list(FAR)[i % 2]
            qty, price, _ = FAR[symbol]
            c = command(order_type="limit", limit_price=Decimal(price), quantity=qty, symbol=symbol)
            drive(rt, c)
            targets.append(c)
    commands: list[tuple[str, Envelope[Any]]] = []
    for i, target_cmd in enumerate(targets):
        td = target_cmd.data
        key = f"{td.account}|{td.symbol}"
        fields = {"target_command_id": td.command_id, "account": td.account, "venue": td.venue,
                  "symbol": td.symbol, "strategy_id": "s-test"}  # fmt: skip
        cmd: AmendOrder | CancelOrder
        if i % 2:
            cmd = AmendOrder(command_id=f"amend-k-{i:04d}", limit_price=Decimal(FAR[td.symbol][2]), **fields)
            commands.append(("cmd.amend_order", new_event(cmd, source="/tests", partition_key=key)))
        else:
            cmd = CancelOrder(command_id=f"cancel-k-{i:04d}", reason="test", **fields)
            commands.append(("cmd.cancel_order", new_event(cmd, source="/tests", partition_key=key)))
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    port = free_port()
    fn = start_function("executor", env, tmp_path, port=port)
    deliveries = start_deliveries(kafka_bootstrap, fn.url)
    sim.control.set_faults(FAULTS)
    producer = make_producer(kafka_bootstrap)
    send_records(producer, [(topic, to_kafka(env_)) for topic, env_ in commands])
    producer.close()
    replacements = [env_.data.command_id for topic, env_ in commands if topic == "cmd.amend_order"]
    done_sql = (
        "SELECT count(*) FROM orders WHERE (replaces_command_id IS NULL AND state = 'CANCELED')"
        " OR (replaces_command_id IS NOT NULL AND state = 'OPEN')"
    )
    rng = random.Random(11)
    killed_at: list[int] = []
    try:
        for target in sorted(rng.sample(range(2, N_TARGETS - 4), KILLS)):
            wait_until(
                lambda t=target: _count(database_url, "SELECT count(*) FROM order_cancel_requests") >= t,
                timeout=120,
                message=f"{target} cancel requests",
            )
            time.sleep(rng.uniform(0, 0.05))
            fn.process.kill()  # SIGKILL: no cleanup of any kind
            fn.process.wait(5)
            killed_at.append(_count(database_url, "SELECT count(*) FROM order_cancel_requests"))
            fn = start_function("executor", env, tmp_path, port=port)
        wait_until(
            lambda: _count(database_url, done_sql) == N_TARGETS + len(replacements),
            timeout=180,
            message="every target canceled and every replacement resting",
        )
    finally:
        deliveries.stop()
        fn.process.kill()
    print(f"kills after {killed_at} of {N_TARGETS} cancel requests")
    assert deliveries.dead_lettered() == 0
    deletes = [r for r in sim.control.audit() if r["path"] == "/fapi/v1/order" and r["method"] == "DELETE"]
    assert len(deletes) == N_TARGETS  # each target needs one executed cancel: so exactly one each
    venue = venue_orders_by_cid(sim)
    for t in targets:
        o = db_order(database_url, t.data.command_id)
        assert o["state"] == "CANCELED" and venue[o["cid"]][0]["status"] == "CANCELED"
    for command_id in replacements:
        assert len(venue[db_order(database_url, command_id)["cid"]]) == 1  # one replacement each
    with psycopg.connect(database_url) as conn:
        r = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM outbox WHERE event_type = 'kairos.exec.trade_result'"
        ).fetchone()
        early = conn.execute(  # a replacement sent before its target was final: two live orders
            "SELECT n.command_id FROM orders n JOIN orders t ON t.command_id = n.replaces_command_id"
            " WHERE (SELECT min(at) FROM order_events WHERE order_id = n.id AND trigger = 'SUBMIT')"
            "     < (SELECT max(at) FROM order_events WHERE order_id = t.id AND to_state = 'CANCELED')"
        ).fetchall()
    assert early == []
    assert r is not None and r[0] == r[1] == N_TARGETS  # each target's result once; replacements rest
