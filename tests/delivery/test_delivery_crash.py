"""An event answered by the function but not yet acknowledged to Kafka comes again after the
delivery process is killed and restarted; the function's inbox dedupes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal

import httpx
import psycopg
from kairos.bus.kafka import make_producer, send_records
from kairos.contracts.codec import to_kafka
from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import new_event
from kairos_testkit.functions import runtime_env, served, stop_process
from kairos_testkit.http_sink import ScriptedSink
from kairos_testkit.topics import create_topics
from kairos_testkit.waiting import wait_until


def test_killed_delivery_redelivers_unacked_event_and_inbox_dedupes(database_url, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    env = runtime_env(database_url, kafka_bootstrap)
    cmd = ExecuteTrade(
        command_id="cmd-kill-00001",
        account="paper-near-intents",
        venue="near_intents",
        symbol="NEAR/USDC",
        side="buy",
        quantity=Decimal("1"),
        strategy_id="t",
    )
    event = new_event(cmd, source="/test", partition_key="paper|NEAR/USDC")
    with served("executor", env, tmp_path) as executor:
        answers: list[str] = []

        def forward_then_maybe_hang(n, headers, body):
            resp = httpx.post(
                executor.url,
                headers={k: v for k, v in headers.items() if k.startswith("ce-") or k == "content-type"},
                content=body,
            )
            answers.append(resp.headers.get("x-kairos-outcome", ""))
            return resp.status_code, resp.content, (60 if n == 1 else 0)  # first answer never arrives

        proxy = ScriptedSink(forward_then_maybe_hang)
        producer = make_producer(kafka_bootstrap)
        send_records(producer, [("cmd.execute_trade", to_kafka(event))])
        producer.close()
        args = [
            sys.executable,
            "-m",
            "kairos.cli",
            "deliver",
            "--only",
            "executor",
            "--no-cron",
            "--sink",
            f"executor={proxy.url}",
        ]
        denv = {**os.environ, **env}
        first = subprocess.Popen(
            args, env=denv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            wait_until(lambda: len(answers) == 1, timeout=30, message="first delivery reached the function")
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
            second = subprocess.Popen(
                args, env=denv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            try:
                wait_until(lambda: len(answers) == 2, timeout=40, message="redelivery after restart")
            finally:
                stop_process(second)
        finally:
            stop_process(first)
            proxy.close()
    assert proxy.ids() == [event.meta.id, event.meta.id]
    assert answers == ["handled", "duplicate"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM paper_executions").fetchone() == (1,)
