"""kill -9 of position-sync during a burst of new positions, through the real KafkaSource
delivery: its subscriptions retry for longer than the restart, so nothing is dead-lettered and
every position is protected soon after position-sync is back (the old 5-retry policy gave up
after ~6 s and left those positions to the emergency check)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from kairos.bus.kafka import make_producer, send_records
from kairos.catalog import load_catalog
from kairos.contracts.codec import to_kafka
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.wiring import kafka_source_specs
from kairos.localinfra.ports import free_port
from kairos_testkit.execution import ACCOUNT, command, exec_env, setup_account
from kairos_testkit.functions import runtime_env, start_function, stop_process
from kairos_testkit.protection_system import PROTECTION, register_accounts
from kairos_testkit.topics import create_topics
from kairos_testkit.waiting import wait_until

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
SEEDS = [(f"acct-k9-{i}", f"kp-k9-key-{i}", f"kp-k9-secret-{i}") for i in range(3)]
RESTART_UNDER_LOAD_S = 7.0  # seen 6-10 s; longer than the old policy's ~6.2 s of retries
NAMES = ("executor", "portfolio", "position-sync")


def _positions(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT position_id, opened_at, protected_at FROM positions").fetchall()


@pytest.mark.slow
def test_kill_9_of_position_sync_during_a_burst_dead_letters_nothing(database_url, sim, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    for _name, key, secret in SEEDS:
        sim.control.add_account(key, secret, "1000000")
    register_accounts(database_url, sim, SEEDS)
    sim.control.set_price("ETHUSDT", "3000")
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url),
           "KAIROS_POSITIONS_PROTECTION": json.dumps(PROTECTION)}
    ports = {name: free_port() for name in NAMES}
    served = {name: start_function(name, env, tmp_path, port=ports[name]) for name in NAMES}
    deliveries = [KafkaSourceDelivery(spec, kafka_bootstrap, profile="tansu")
                  for spec in kafka_source_specs(load_catalog(), {n: f.url for n, f in served.items()})]
    threads = [threading.Thread(target=d.run, daemon=True) for d in deliveries]
    for t in threads:
        t.start()
    entries = [command(account=acct, symbol=sym, quantity="0.010" if sym.startswith("BTC") else "0.100")
               for acct in [ACCOUNT] + [s[0] for s in SEEDS] for sym in SYMBOLS]
    back: list[datetime] = []
    try:
        producer = make_producer(kafka_bootstrap)
        send_records(producer, [("cmd.execute_trade", to_kafka(c)) for c in entries])
        producer.close()
        wait_until(lambda: len(_positions(database_url)) >= 1, timeout=60, message="the first position opened")
        served["position-sync"].process.kill()  # SIGKILL mid-burst: no cleanup of any kind
        served["position-sync"].process.wait(5)

        def restart() -> None:
            time.sleep(RESTART_UNDER_LOAD_S)
            served["position-sync"] = start_function("position-sync", env, tmp_path, port=ports["position-sync"])
            back.append(datetime.now(UTC))

        restarting = threading.Thread(target=restart, daemon=True)
        restarting.start()
        wait_until(lambda: len(_positions(database_url)) == len(entries)
                   and all(p[2] is not None for p in _positions(database_url)),
                   timeout=120, message=f"all {len(entries)} positions protected")
        restarting.join(60)
    finally:
        for d in deliveries:
            d.stop.set()
        for t in threads:
            t.join(10)
        for fn in served.values():
            stop_process(fn.process)
    assert sum(d.stats.dead_lettered for d in deliveries) == 0  # nothing given up on
    assert sum(d.stats.retried for d in deliveries) > 0  # the kill did interrupt deliveries
    assert back, "position-sync came back"
    delays = []
    for _pid, opened_at, protected_at in _positions(database_url):
        since = max(opened_at, back[0])  # a position cannot be protected while position-sync is down
        delays.append((protected_at - since).total_seconds())
        assert protected_at - since < timedelta(seconds=10), (opened_at, back[0], protected_at)
    print(f"protected after open or restart: max {max(delays):.1f}s, "
          f"p50 {sorted(delays)[len(delays) // 2]:.1f}s over {len(delays)} positions")
    assert Decimal(len(delays)) == len(entries)
