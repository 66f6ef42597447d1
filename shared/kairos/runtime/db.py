"""Postgres access: a connection pool and ordered SQL migrations under an advisory lock.

Migrations are files ``NNNN_name.sql`` in ``migrations/``; each is applied once, in order,
inside its own transaction. The advisory lock makes it safe for many function instances
to start at the same moment: one applies, the others wait and then find nothing to do.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from kairos.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATION_LOCK_ID = 0x6B61_6972_6F73  # "kairos"
MIGRATIONS_PACKAGE = "kairos.runtime.migrations"


#: How long a request keeps retrying its transaction on fresh connections after a
#: connection-level error (a killed backend, a failover, a restart) before answering 503;
#: below the delivery's per-attempt timeout, so the delivery's own retries come next.
DB_RETRY_SECONDS = 5.0
#: How long a checkout waits for a connection (a database that is down fails fast).
CHECKOUT_TIMEOUT_SECONDS = 4.0


def url_from_env() -> str:
    """``DATABASE_URL``, for a command an operator runs by hand; ConfigError saying what to
    set when it is missing or blank."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        raise ConfigError("DATABASE_URL is not set: point it at the Kairos database (docs/OPERATIONS.md)")
    return url


def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, name: str = "kairos") -> ConnectionPool:
    """A connection pool whose connections are checked when handed out.

    Why the check (one empty round-trip per checkout, tens of microseconds locally): an
    idle connection can be dead without the pool knowing (``pg_terminate_backend``, a
    failover, a proxy restart, an idle timeout). Unchecked, every request takes the next
    dead one, each delivery retry too, and a whole retry budget is spent on corpses.
    """
    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=True,
        timeout=CHECKOUT_TIMEOUT_SECONDS,
        check=ConnectionPool.check_connection,
        kwargs={"application_name": name},
    )


def is_connection_error(exc: BaseException) -> bool:
    """True for a failure of the connection or the server rather than of the statement:
    the same transaction may succeed on another connection a moment later. Includes a
    pool checkout that timed out (``PoolTimeout``) and serialization failures."""
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def ping(pool: ConnectionPool, timeout: float = 2.0) -> str | None:
    """None when the database answers ``SELECT 1`` within ``timeout``, else why not."""
    try:
        with pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}: {exc}"
    return None


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) of every migration, in order."""
    folder = resources.files(MIGRATIONS_PACKAGE)
    files = sorted((entry.name, entry.read_text()) for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(Path(name).stem, sql) for name, sql in files]


def apply_migrations(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call."""
    applied_now: list[str] = []
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql)  # type: ignore[arg-type]  # trusted files shipped with the package
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
            log.info("applied migration", extra={"migration": version})
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied_now


def migrate(url: str) -> list[str]:
    """Connect, apply pending migrations, disconnect."""
    with psycopg.connect(url, autocommit=True) as conn:
        return apply_migrations(conn)
