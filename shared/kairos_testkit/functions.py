"""Kairos functions under test: as a real ``kairos serve`` process (HTTP, like Knative runs it)
or as an in-process function object (the handler path replay and the benchmarks use)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from kairos.localinfra.ports import free_port
from kairos.runtime.function import KairosFunction
from kairos.runtime.loader import load_func_module


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
