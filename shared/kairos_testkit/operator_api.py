"""The operator API as a real process (``kairos serve api``) for browser tests and benchmarks,
plus a seeded trade (order, fill, open position, mark) to watch appear."""

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
import psycopg
from kairos.api import users
from kairos.localinfra.ports import free_port
from kairos.runtime.db import migrate

SECRET = "testkit-signing-key-0123456789abcdefghijklmnop"
PASSWORD = "correct horse battery"


@dataclass
class ServedApi:
    url: str
    database_url: str
    log: Path

    def login(self, name: str) -> dict[str, str]:
        answer = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@contextmanager
def served_api(database_url: str, log: Path, **env: str) -> Iterator[ServedApi]:
    """Migrate, add one user per role (password :data:`PASSWORD`), serve, wait until ready."""
    migrate(database_url)
    with psycopg.connect(database_url) as conn:
        for role in users.ROLES:
            users.add(conn, role, PASSWORD, role)
    port = free_port()
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAIROS_API_JWT_SECRET": SECRET,
        "LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "KAIROS_API_RATE_PER_USER": "1000000",
        "KAIROS_API_RATE_PER_ADDRESS": "1000000",
        **env,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kairos.cli", "serve", "api"], env=child_env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"kairos serve api exited {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health/readiness", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"api not ready after 60 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield ServedApi(url, database_url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def seed_trade(
    database_url: str, *, symbol: str = "BTC/USDT:USDT", n: int = 1, price: str = "100", mark: str = "110"
) -> None:
    """One order with one fill and an open LONG position of 2 at ``price``, marked at ``mark``."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO orders (command_id, client_order_id, account, venue, mode, symbol, side, order_type,"
            " quantity, intent, strategy_id, command_event, state) VALUES (%s, %s, 'acct', 'binanceusdm', 'live',"
            " %s, 'buy', 'market', 2, 'open', 's1', '{}', 'NEW') RETURNING id",
            (f"cmd-{n}", f"cid-{n}", symbol),
        ).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO fills (order_id, account, venue, venue_trade_id, quantity, price, traded_at)"
            " VALUES (%s, 'acct', 'binanceusdm', %s, 2, %s, now())",
            (row[0], f"t-{n}", price),
        )
        conn.execute(
            "INSERT INTO positions (position_id, account, venue, symbol, side, status, quantity, peak_quantity,"
            " entry_price, opened_at, updated_at, mode, revision, projection, unprotected_since)"
            " VALUES (%s, 'acct', 'binanceusdm', %s, 'LONG', 'OPEN', 2, 2, %s, now(), now(), 'LIVE', 1, '{}', now())",
            (f"pos-{n}", symbol, price),
        )
        conn.execute(
            "INSERT INTO mark_prices (venue, symbol, price, observed_at) VALUES ('binanceusdm', %s, %s, now())"
            " ON CONFLICT (venue, symbol) DO UPDATE SET price = EXCLUDED.price, observed_at = now()",
            (symbol, mark),
        )
