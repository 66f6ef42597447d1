"""Fixtures of the operator API tests: a migrated database with one user per role, and clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import psycopg
import pytest
from fastapi.testclient import TestClient
from kairos.api import users
from kairos.api.app import Api
from kairos.api.function import BodyLimit
from kairos.api.limits import Limit
from kairos.api.settings import ApiSettings
from kairos.runtime.db import migrate, open_pool

SECRET = "test-signing-key-0123456789abcdefghijklmnop"
PASSWORD = "correct horse battery"


@dataclass
class ApiHarness:
    url: str
    settings: ApiSettings
    make: Callable[..., TestClient]

    def login(self, client: TestClient, name: str) -> dict[str, str]:
        answer = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def api(database_url: str) -> Iterator[ApiHarness]:
    migrate(database_url)
    with psycopg.connect(database_url) as conn:
        for role in users.ROLES:
            users.add(conn, role, PASSWORD, role)
    base = ApiSettings.from_env({"DATABASE_URL": database_url, "KAIROS_API_JWT_SECRET": SECRET})
    pools = []
    clients = []

    def make(**changes: object) -> TestClient:
        settings = replace(base, **changes)  # type: ignore[arg-type]
        pool = open_pool(database_url, max_size=8, name="api-test")
        pools.append(pool)
        client = TestClient(BodyLimit(Api(settings, pool).app, settings.max_body_bytes))  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield ApiHarness(database_url, base, make)
    for client in clients:
        client.close()
    for pool in pools:
        pool.close()


def limit(requests: int, window_s: int = 60) -> Limit:
    return Limit(requests, window_s)
