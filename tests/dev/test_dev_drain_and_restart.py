"""A stop drains, and the next run finds its Postgres state.

The broker here is the test's own Tansu (``KAFKA_BOOTSTRAP_SERVERS`` given, so the runner
does not start one): it outlives the runner, so after the stop every topic can be read
and compared with Postgres. Postgres is the runner's embedded one, in the state folder.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from kairos.dev.topics import read_topics
from kairos.localinfra.postgres import start_embedded_postgres
from kairos_testkit.dev_system import DevSystem, clean_env, start_dev
from kairos_testkit.topics import record_envelopes
from kairos_testkit.waiting import wait_until

pytestmark = pytest.mark.slow


@dataclass
class FirstRun:
    state_dir: Path
    system: DevSystem
    exit_code: int


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[FirstRun]:
    """Run 1: quotes flow at 30/s; SIGINT once at least 20 trade results exist."""
    state_dir = tmp_path_factory.mktemp("drain") / "state"
    env = clean_env(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    dev = start_dev(state_dir, "--rate", "30", "--seed", "11", env=env)
    try:
        dev.wait_running()
        wait_until(lambda: dev.count_results() >= 20, timeout=90, message="20 trade results")
        code = dev.stop()
    finally:
        if dev.process.poll() is None:
            dev.kill()
    yield FirstRun(state_dir, dev, code)


def ids_on(bootstrap: str, topic: str, source: str | None = None) -> tuple[set[str], set[str]]:
    """(event ids, correlation ids) of every record of ``topic`` (only ``source``'s, if given)."""
    envs = [e for e in record_envelopes(read_topics(bootstrap, [topic], idle=1.0)) if source in (None, e.meta.source)]
    return {e.meta.id for e in envs}, {e.meta.correlation_id for e in envs}


def test_sigint_mid_flow_drains_every_ingested_quote_and_leaves_no_process(
    first_run: FirstRun, kafka_bootstrap: str
) -> None:
    dev = first_run.system
    assert first_run.exit_code == 0, dev.output()[-3000:]
    assert "stopped cleanly; every subscription drained" in dev.output()
    wait_until(lambda: not dev.leftovers(), timeout=10, message="every process of the run gone")

    quotes, quote_corr = ids_on(kafka_bootstrap, "raw.near_intents.quote")
    demands, demand_corr = ids_on(kafka_bootstrap, "norm.swap_demand")
    # the reactor's commands: the strategies' (risk-guardian) and protective orders (position-sync)
    # share the topic and are not caused by quotes
    commands, command_corr = ids_on(kafka_bootstrap, "cmd.execute_trade", source="/kairos/reactor")
    assert len(quotes) >= 20
    pg = start_embedded_postgres(first_run.state_dir / "postgres")
    try:
        with psycopg.connect(pg.url) as conn:
            handled = {
                consumer: {
                    row[0] for row in conn.execute("SELECT event_id FROM inbox WHERE consumer = %s", (consumer,))
                }
                for consumer in ("normalize-near-intents", "reactor", "executor")
            }
            result_corr = {row[0] for row in conn.execute("SELECT correlation_id FROM trade_results")}
            # rows held back until a time (a new position's emergency check, the scheduler's spread
            # syncs) wait for it by design: the next run's relay sends them once due
            backlog = conn.execute(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL AND not_before IS NULL"
            ).fetchone()
    finally:
        pg.stop()
    # every quote ingested before the stop went through every hop
    assert quotes <= handled["normalize-near-intents"]
    assert demand_corr == quote_corr
    assert demands <= handled["reactor"]
    assert commands <= handled["executor"]
    assert command_corr <= demand_corr
    assert command_corr <= result_corr, f"{len(command_corr - result_corr)} commands have no trade result"
    assert backlog == (0,)


def test_a_second_run_finds_the_previous_postgres_state_and_a_double_ctrl_c_stops_at_once(
    first_run: FirstRun, kafka_bootstrap: str
) -> None:
    env = clean_env(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    dev = start_dev(first_run.state_dir, "--no-sources", env=env)
    try:
        dev.wait_running()
        assert dev.count_results() >= 20
        dev.remember_pids()
        dev.process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(60) == 0
    finally:
        if dev.process.poll() is None:
            dev.kill()
    out = dev.output()
    assert "second interrupt, stopping at once" in out, out[-2000:]
    assert "stopped cleanly" not in out
    wait_until(lambda: not dev.leftovers(), timeout=10, message="every process of the second run gone")
