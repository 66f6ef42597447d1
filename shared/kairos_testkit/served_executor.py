"""The executor served as its container serves it (``kairos serve executor``), behind the
catalog's KafkaSource deliveries: the set-up the kill -9 and pending-outcome tests share.

A test starts the process and the deliveries, kills and restarts the process as it likes
(SIGKILL: no cleanup of any kind), and reads the deliveries' counters at the end: nothing may
have been dead-lettered.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kairos.catalog import load_catalog
from kairos.catalog.model import DeliveryPolicy
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.wiring import kafka_source_specs

from kairos_testkit.functions import ServedFunction, catalog_env, start_function


@dataclass
class Deliveries:
    """The executor's KafkaSource deliveries, each running on its own thread."""

    items: list[KafkaSourceDelivery]
    threads: list[threading.Thread]

    def answered(self) -> int:
        return sum(d.stats.delivered + d.stats.dead_lettered for d in self.items)

    def dead_lettered(self) -> int:
        return sum(d.stats.dead_lettered for d in self.items)

    def retried(self) -> int:
        return sum(d.stats.retried for d in self.items)

    def stop(self) -> None:
        for d in self.items:
            d.stop.set()
        for t in self.threads:
            t.join(10)


def start_deliveries(
    bootstrap: str, url: str, *, policy: DeliveryPolicy | None = None, topics: Iterable[str] | None = None
) -> Deliveries:
    """The catalog's deliveries to the executor at ``url`` (``policy``: instead of the catalog's
    retry budget; ``topics``: only these subscriptions), started."""
    wanted = set(topics) if topics is not None else None
    specs = [
        s
        for s in kafka_source_specs(load_catalog(), {"executor": url}, only={"executor"})
        if wanted is None or s.topic in wanted
    ]
    items = [
        KafkaSourceDelivery(dataclasses.replace(s, policy=policy) if policy else s, bootstrap, profile="tansu")
        for s in specs
    ]
    threads = [threading.Thread(target=d.run, daemon=True) for d in items]
    for t in threads:
        t.start()
    return Deliveries(items, threads)


def kill(fn: ServedFunction) -> None:
    """SIGKILL, and wait for the process to be gone."""
    fn.process.kill()
    fn.process.wait(10)


def start_later(env: dict[str, str], tmp_path: Path, port: int) -> ServedFunction:
    """Start the executor without waiting for readiness (it stays RECOVERING while the
    venue's lookups fail), and give it a moment to run its recovery."""
    log_path = tmp_path / f"executor-{port}-later.log"
    full = {**os.environ, **catalog_env("executor"), **env, "LISTEN_ADDRESS": f"127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kairos.cli", "serve", "executor"],
        env=full,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    time.sleep(3)
    return ServedFunction("executor", f"http://127.0.0.1:{port}", proc, log_path)


def restart_through_unknown(
    fn: ServedFunction, env: dict[str, str], tmp_path: Path, port: int, sim: Any, restarts: int = 2
) -> ServedFunction:
    """Kill -9 and restart the executor ``restarts`` times while the venue's faults keep its
    outcomes unknown, then clear the faults and restart it once more (ready this time)."""
    for _ in range(restarts):
        kill(fn)
        fn = start_later(env, tmp_path, port)
    sim.control.clear_faults()
    kill(fn)
    return start_function("executor", env, tmp_path, port=port)
