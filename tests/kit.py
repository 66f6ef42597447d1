"""Shared builders for the tests: real function processes, in-process functions, topic readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cloudevents.core.v1.event import CloudEvent
from kafka import KafkaConsumer, TopicPartition
from kairos.bus.kafka import TANSU_CONSUMER_SETTINGS, ensure_catalog_topics
from kairos.contracts.codec import KafkaRecord, from_kafka, to_cloudevent
from kairos.contracts.envelope import Envelope
from kairos.localinfra.ports import free_port
from kairos.runtime.function import KairosFunction
from kairos.runtime.loader import load_func_module

REPO = Path(__file__).resolve().parents[1]


def runtime_env(database_url: str, bootstrap: str, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAIROS_KAFKA_PROFILE": "tansu",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def catalog_env(function: str) -> dict[str, str]:
    from kairos.catalog import load_catalog

    return dict(load_catalog().function(function).env)


@contextmanager
def in_process(function: str, env: dict[str, str]) -> Iterator[KairosFunction]:
    """A function object started without a server (the handler path replay/bench use)."""
    fn: KairosFunction = load_func_module(function).new()
    fn.start({**catalog_env(function), **env})
    fn.wait_ready(60)
    try:
        yield fn
    finally:
        fn.stop()


@dataclass
class ServedFunction:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/health/readiness", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_function(function: str, env: dict[str, str], log_dir: Path, port: int | None = None) -> ServedFunction:
    port = port or free_port()
    log_path = log_dir / f"{function}-{port}.log"
    full_env = {**os.environ, **catalog_env(function), **env, "LISTEN_ADDRESS": f"127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kairos.cli", "serve", function],
        env=full_env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    served = ServedFunction(function, f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + 60
    while not served.ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{function} did not become ready:\n{served.logs()[-3000:]}")
        time.sleep(0.1)
    return served


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def served(function: str, env: dict[str, str], log_dir: Path) -> Iterator[ServedFunction]:
    fn = start_function(function, env, log_dir)
    try:
        yield fn
    finally:
        stop_process(fn.process)


def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 20.0, settle: float = 0.5) -> list[Any]:
    """Every record of ``topic`` from the beginning, waiting until ``expect`` have arrived.

    After reaching ``expect`` it keeps reading for ``settle`` seconds so that an extra,
    unexpected record (a duplicate) is seen too.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
        **TANSU_CONSUMER_SETTINGS,
    )
    parts = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    settled_at: float | None = None
    while time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=100).values():
            records.extend(batch)
        if len(records) >= expect:
            settled_at = settled_at or time.monotonic()
            if time.monotonic() - settled_at >= settle:
                break
    consumer.close()
    return records


def record_envelopes(records: list[Any]) -> list[Envelope[Any]]:
    return [
        from_kafka(KafkaRecord(key=r.key, value=r.value, headers=tuple((k, v) for k, v in r.headers))) for r in records
    ]


def ping_event(source: str, scheduled: datetime, data: dict[str, Any] | None = None) -> CloudEvent:
    return CloudEvent(
        attributes={
            "id": str(uuid.uuid4()),
            "type": "dev.knative.sources.ping",
            "source": source,
            "specversion": "1.0",
            "time": scheduled,
            "datacontenttype": "application/json",
        },
        data=json.loads(json.dumps(data or {})),
    )


def now() -> datetime:
    return datetime.now(UTC)


def ce_of(env: Envelope[Any]) -> CloudEvent:
    return to_cloudevent(env)


def create_topics(bootstrap: str) -> None:
    ensure_catalog_topics(bootstrap)


class ScriptedSink:
    """A local HTTP sink that records every request and answers as a script says.

    ``script(n, headers, body)`` returns (status, body, delay_seconds) for the n-th request.
    """

    def __init__(self, script: Any = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.script = script or (lambda n, h, b: (204, b"", 0.0))
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with sink._lock:
                    sink.requests.append((headers, body))
                    n = len(sink.requests)
                status, out, delay = sink.script(n, headers, body)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [h.get("ce-id", "") for h, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(predicate: Any, timeout: float = 20.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.05)
