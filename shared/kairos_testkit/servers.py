"""The servers one benchmark run needs, private to the run and removed afterwards.

Every benchmark that touches a database starts its own embedded Postgres in a scratch
folder, most also a Tansu broker, the archive one also LocalStack S3; this is the one
place that starts them, stops them in reverse order and deletes the folder, even when
the benchmark raises half-way.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from kairos.localinfra.broker import EmbeddedBroker, start_embedded_broker
from kairos.localinfra.postgres import EmbeddedPostgres, start_embedded_postgres
from kairos.localinfra.s3 import LocalS3, start_localstack
from psycopg import sql
from psycopg.conninfo import make_conninfo


@dataclass
class Servers:
    """What :func:`embedded_servers` started; ``root`` is the run's scratch folder (logs,
    simulator state), deleted with everything in it when the run ends."""

    root: Path
    postgres: EmbeddedPostgres
    broker: EmbeddedBroker | None = None
    s3: LocalS3 | None = None

    @property
    def url(self) -> str:
        """The ``kairos`` database's URL."""
        return self.postgres.url

    @property
    def bootstrap(self) -> str:
        """The broker's bootstrap address; asking for it without a broker is a bug in the bench."""
        if self.broker is None:
            raise RuntimeError("no broker in this run: call embedded_servers(..., broker=True)")
        return self.broker.bootstrap

    def restart_broker(self) -> str:
        """Replace the broker with a fresh one and return its bootstrap address.

        Tansu keeps records in memory only, so the new broker is empty: a phase that must
        not queue behind an earlier phase's records starts from here.
        """
        self.stop_broker()
        self.broker = start_embedded_broker()
        return self.broker.bootstrap

    def stop_broker(self) -> None:
        if self.broker is not None:
            self.broker.stop()

    def database(self, name: str) -> str:
        """Create one more database on the same server and return its URL (a phase that
        must not see an earlier phase's rows)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return make_conninfo(self.url, dbname=name)


@contextmanager
def embedded_servers(prefix: str, *, broker: bool = True, localstack: bool = False) -> Iterator[Servers]:
    """Postgres, and unless ``broker=False`` a Tansu broker, and with ``localstack=True``
    LocalStack S3 (needs ``scripts/ensure-test-tools.sh localstack``), in a scratch folder
    named ``prefix...``; all stopped and the folder deleted on the way out."""
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix=prefix))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        servers = Servers(root=root, postgres=start_embedded_postgres(root / "pg"))
        stack.callback(servers.postgres.stop)
        if broker:
            servers.broker = start_embedded_broker()
            stack.callback(servers.stop_broker)  # whichever broker is current at the end
        if localstack:
            servers.s3 = start_localstack(root / "s3", timeout=180)
            stack.callback(servers.s3.stop)
        yield servers
