"""A private Postgres and Tansu broker for one benchmark run, stopped and removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kairos.localinfra.broker import start_embedded_broker
from kairos.localinfra.postgres import start_embedded_postgres


@contextmanager
def embedded_servers(prefix: str) -> Iterator[tuple[str, str]]:
    """(Postgres URL, broker bootstrap); the data folder is deleted on the way out."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    pg = start_embedded_postgres(root / "pg")
    try:
        broker = start_embedded_broker()
        try:
            yield pg.url, broker.bootstrap
        finally:
            broker.stop()
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
