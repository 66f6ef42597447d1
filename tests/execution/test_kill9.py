"""kill -9 of the executor process at random moments while commands flow through the real
KafkaSource delivery, then restart: no duplicate at the venue, no lost command, and after
reconciliation every order's state equals the venue's."""

from __future__ import annotations

import os
import random
import time
from decimal import Decimal

import psycopg
import pytest
from kairos.bus.kafka import make_producer, send_records
from kairos.contracts.codec import to_kafka
from kairos.execution.client_ids import is_ours
from kairos.localinfra.ports import free_port
from kairos_testkit.execution import command, exec_env, runtime, setup_account, venue_orders_by_cid
from kairos_testkit.functions import runtime_env, start_function
from kairos_testkit.served_executor import start_deliveries
from kairos_testkit.topics import create_topics
from kairos_testkit.waiting import wait_until

# the issue asks for 500 commands; ~50 s here on a quiet machine (fewer via the variables)
N_COMMANDS = int(os.environ.get("KAIROS_KILL9_COMMANDS", "500"))
KILLS = int(os.environ.get("KAIROS_KILL9_KILLS", "10"))
VENUE_TO_DB = {
    "FILLED": "FILLED",
    "NEW": "OPEN",
    "PARTIALLY_FILLED": "PARTIALLY_FILLED",
    "CANCELED": "CANCELED",
    "EXPIRED": "EXPIRED",
    "REJECTED": "REJECTED",
}


def _commands() -> list:
    rng = random.Random(9)
    out = []
    for i in range(N_COMMANDS):
        symbol, qty, price = (("BTC/USDT:USDT", "0.002", "50000"), ("ETH/USDT:USDT", "0.010", "2500"))[i % 2]
        if i % 7 == 3:  # a resting limit, far from the market: stays open at the venue
            out.append(command(order_type="limit", limit_price=Decimal(price), quantity=qty, symbol=symbol))
        else:
            out.append(command(side=rng.choice(["buy", "sell"]), quantity=qty, symbol=symbol))
    return out


@pytest.mark.slow
def test_kill_9_at_random_points_loses_and_duplicates_nothing(database_url, sim, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    sim.control.set_price("ETHUSDT", "3000")
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    port = free_port()
    fn = start_function("executor", env, tmp_path, port=port)
    deliveries = start_deliveries(kafka_bootstrap, fn.url)
    commands = _commands()
    producer = make_producer(kafka_bootstrap)
    send_records(producer, [("cmd.execute_trade", to_kafka(c)) for c in commands])
    producer.close()

    def count(sql: str) -> int:
        with psycopg.connect(database_url) as conn:
            r = conn.execute(sql).fetchone()
        return int(r[0]) if r else 0

    kills = 0
    killed_at: list[int] = []  # orders recorded when each kill happened: spread over the run
    rng = random.Random(5)
    try:
        # kill when the run reaches random points of progress, then at a random instant within
        # the command being handled (before the row, between row and venue call, after it...)
        for target in sorted(rng.sample(range(5, N_COMMANDS - 10), KILLS)):
            wait_until(lambda t=target: count("SELECT count(*) FROM orders") >= t, timeout=120, message=f"{target}")
            time.sleep(rng.uniform(0, 0.03))
            fn.process.kill()  # SIGKILL: no cleanup of any kind
            fn.process.wait(5)
            kills += 1
            killed_at.append(count("SELECT count(*) FROM orders"))
            fn = start_function("executor", env, tmp_path, port=port)
        wait_until(
            lambda: count("SELECT count(*) FROM orders WHERE state NOT IN ('NEW','SUBMITTED','UNKNOWN')") == N_COMMANDS,
            timeout=120,
            message=f"all {N_COMMANDS} commands reached a recorded outcome",
        )
    finally:
        deliveries.stop()
        fn.process.kill()
    assert kills == KILLS and killed_at[-1] < N_COMMANDS, killed_at
    print(f"kills after {killed_at} of {N_COMMANDS} orders")
    assert deliveries.dead_lettered() == 0  # nothing was given up
    assert deliveries.retried() >= KILLS  # the kills interrupted deliveries
    with runtime(database_url, function="reconciler") as rt:
        report = rt.reconciler.run()
    assert report.complete
    venue = venue_orders_by_cid(sim)
    with psycopg.connect(database_url) as conn:
        orders = conn.execute("SELECT client_order_id, state, order_type FROM orders").fetchall()
        results = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM outbox WHERE event_type = 'kairos.exec.trade_result'"
        ).fetchone()
    assert len(orders) == N_COMMANDS  # no lost command
    ours = [cid for cid in venue if is_ours(cid)]
    assert len(ours) == N_COMMANDS and all(len(venue[cid]) == 1 for cid in ours)  # no duplicate
    for cid, state, _kind in orders:
        assert VENUE_TO_DB[venue[cid][0]["status"]] == state, cid
    resting = sum(1 for _c, s, _k in orders if s == "OPEN")
    assert results is not None and results[0] == results[1] == N_COMMANDS - resting
