"""``kairos deliver``: run the catalog's deliveries (KafkaSource + PingSource) locally.

``--sink NAME=URL`` tells where function NAME listens (repeatable). With ``--stats-file``
the counters of every delivery are written there as JSON once a second (the live view
of ``kairos dev`` reads them).

Each delivery runs in a thread of its own. A thread that dies (an exception escaped the
consumer loop: a broker error, a bug) is started again after a short pause, the restart
is counted in its stats (``restarts``, ``last_error``) and logged; the records it had not
committed come again, and the functions' inboxes dedupe them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

from kairos.catalog import load_catalog
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.ping_source import PingSourceDelivery
from kairos.delivery.wiring import kafka_source_specs, ping_source_specs
from kairos.runtime import logs

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sink", action="append", default=[], metavar="FUNCTION=URL", help="where a function listens")
    parser.add_argument("--only", action="append", default=[], help="deliver to these functions only")
    parser.add_argument("--no-cron", action="store_true", help="do not run PingSources")
    parser.add_argument("--stats-file", type=Path, help="write delivery counters here (JSON) every second")
    parser.add_argument("--stats-interval", type=float, default=1.0, help="seconds between two stats-file writes")


def write_stats(path: Path, runners: list[KafkaSourceDelivery | PingSourceDelivery]) -> None:
    """Replace ``path`` atomically, so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"written_at": time.time(), "deliveries": [r.stats.snapshot() for r in runners]}))
    tmp.replace(path)


RESTART_PAUSE_SECONDS = 1.0


def guarded(runner: KafkaSourceDelivery | PingSourceDelivery) -> None:
    """Run one delivery; an exception that escapes it is recorded, then the thread ends."""
    try:
        runner.run()
    except Exception as exc:
        runner.stats.crashed(f"{type(exc).__name__}: {exc}")
        log.exception("delivery thread died; it will be restarted", extra={"delivery": runner.stats.name})
        return
    if not runner.stop.is_set():
        runner.stats.crashed("delivery loop returned without being stopped")


def start(runner: KafkaSourceDelivery | PingSourceDelivery) -> threading.Thread:
    thread = threading.Thread(target=guarded, args=(runner,), name=runner.stats.name, daemon=True)
    thread.start()
    return thread


def restart_dead(runners: list[KafkaSourceDelivery | PingSourceDelivery], threads: list[threading.Thread]) -> None:
    """Start again every delivery whose thread ended while it was not asked to stop."""
    for i, (runner, thread) in enumerate(zip(runners, threads, strict=True)):
        if thread.is_alive() or runner.stop.is_set():
            continue
        if runner.stop.wait(RESTART_PAUSE_SECONDS):
            continue
        log.warning(
            "restarting delivery",
            extra={"delivery": runner.stats.name, "restarts": runner.stats.restarts, "reason": runner.stats.last_error},
        )
        threads[i] = start(runner)


def run(args: argparse.Namespace) -> int:
    logs.configure(service="delivery")
    sinks = dict(item.split("=", 1) for item in args.sink)
    catalog = load_catalog()
    only = set(args.only) or None
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    profile = os.environ.get("KAIROS_KAFKA_PROFILE", "kafka")
    runners: list[KafkaSourceDelivery | PingSourceDelivery] = [
        KafkaSourceDelivery(spec, bootstrap, profile=profile) for spec in kafka_source_specs(catalog, sinks, only)
    ]
    if not args.no_cron:
        runners += [PingSourceDelivery(spec) for spec in ping_source_specs(catalog, sinks, only)]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    threads = [start(r) for r in runners]
    while not stop.wait(args.stats_interval):
        restart_dead(runners, threads)
        if args.stats_file:
            write_stats(args.stats_file, runners)
    if args.stats_file:
        write_stats(args.stats_file, runners)
    for r in runners:
        r.stop.set()
    for t in threads:
        t.join(timeout=15)
    log.info("deliveries stopped")
    return 0
