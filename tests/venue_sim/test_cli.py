"""``kairos venue-sim`` runs standalone, prints demo credentials, and serves ccxt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kairos.localinfra.ports import free_port
from kairos.venues.binance_usdm.client import make_client
from kairos_testkit.venue_sim import ETH


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kairos.cli", "venue-sim", "--port", str(port), "--clock", "stepped", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("venue simulator:") or proc.poll() is not None:
            break
    return proc, "".join(lines)


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    return out


def test_without_credentials_the_demo_account_is_printed_and_trades() -> None:
    proc, _ = start()
    try:
        demo = proc.stdout.readline() if proc.stdout else ""
        assert demo.startswith("demo account: api key kairos-demo-key")
        line = next(p for p in _.splitlines() if p.startswith("venue simulator:"))
        base = line.split()[2]
        ex = make_client(base, "kairos-demo-key", "kairos-demo-secret")
        assert ex.create_order(ETH, "market", "buy", 0.1)["status"] == "closed"
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_given_credentials_fund_that_account(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text('{"rules": [{"kind": "latency", "latency_ms": 1}]}')
    proc, out = start("--api-key", "K1", "--api-secret", "S1", "--seed", "4", "--faults", str(faults))
    try:
        base = next(p for p in out.splitlines() if p.startswith("venue simulator:")).split()[2]
        assert make_client(base, "K1", "S1").fetch_balance()["USDT"]["total"] == 100000.0
    finally:
        stop(proc)


def test_half_given_credentials_are_refused_with_a_reason() -> None:
    proc, out = start("--api-key", "only-key")
    proc.wait(10)
    assert proc.returncode == 2 and "give both --api-key and --api-secret" in out


@pytest.mark.parametrize("bad", ["missing.yaml"])
def test_unreadable_fault_file_is_refused_with_its_name(bad: str, tmp_path: Path) -> None:
    proc, out = start("--faults", str(tmp_path / bad))
    proc.wait(10)
    assert proc.returncode == 2 and bad in out
