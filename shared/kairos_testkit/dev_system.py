"""A real ``kairos dev`` process driven from a test: start, wait, run CLI commands, stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from kairos.dev.state import StateDir, read_run_info

from kairos_testkit.paths import REPO
from kairos_testkit.waiting import wait_until


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without infrastructure addresses (the runner embeds its own)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env["LOG_LEVEL"] = "INFO"
    env.update(extra)
    return env


@dataclass
class DevSystem:
    state_dir: Path
    process: subprocess.Popen[bytes]
    out_path: Path
    env: dict[str, str]
    seen_pids: set[int] = field(default_factory=set)

    @property
    def state(self) -> StateDir:
        return StateDir(self.state_dir)

    def info(self) -> Any:
        return read_run_info(self.state)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_running(self, timeout: float = 120) -> None:
        def running() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"kairos dev exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            try:
                return bool(self.info().phase == "running")
            except Exception:
                return False

        wait_until(running, timeout=timeout, message="kairos dev to be running")
        self.remember_pids()

    def remember_pids(self) -> None:
        """Every process the system runs: the runner's descendants and run.json's entries."""
        try:
            self.seen_pids |= {p.pid for p in psutil.Process(self.process.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
        self.seen_pids |= {p.pid for p in self.info().processes.values() if p.pid}

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.info().database_url, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def count_results(self) -> int:
        try:
            return int(self.sql("SELECT count(*) FROM trade_results")[0][0])
        except psycopg.Error:
            return 0

    def kairos(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``kairos ARGS --state-dir <this system>`` and capture its output."""
        return subprocess.run(
            [sys.executable, "-m", "kairos.cli", *args, "--state-dir", str(self.state_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )

    def stop(self, timeout: float = 90) -> int:
        """SIGINT, as Ctrl-C would; returns the exit code."""
        self.remember_pids()
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"kairos dev did not stop in {timeout}s:\n{self.output()[-4000:]}") from None

    def kill(self) -> None:
        """Last resort for a failed test: nothing may outlive it."""
        self.remember_pids()
        for pid in self.seen_pids | {self.process.pid}:
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass

    def leftovers(self) -> list[str]:
        alive = []
        for pid in self.seen_pids:
            try:
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{pid} {' '.join(proc.cmdline())[:120]}")
            except psutil.NoSuchProcess:
                continue
        return alive


def start_dev(state_dir: Path, *args: str, env: dict[str, str] | None = None) -> DevSystem:
    env = env or clean_env()
    state_dir.mkdir(parents=True, exist_ok=True)
    out_path = state_dir.parent / f"{state_dir.name}-dev-{int(time.time() * 1000)}.out"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kairos.cli", "dev", "--state-dir", str(state_dir), "--plain", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    return DevSystem(state_dir, proc, out_path, env)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode in (0, 1), f"exit {result.returncode}: {result.stderr[-2000:]}"
    return json.loads(result.stdout)
