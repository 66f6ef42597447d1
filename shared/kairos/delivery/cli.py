"""``kairos deliver``: run the catalog's deliveries (KafkaSource + PingSource) locally.

``--sink NAME=URL`` tells where function NAME listens (repeatable). With ``--stats-file``
the counters of every delivery are written there as JSON once a second (the live view
of ``kairos dev`` reads them).
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
    threads = [threading.Thread(target=r.run, name=r.stats.name, daemon=True) for r in runners]
    for t in threads:
        t.start()
    while not stop.wait(args.stats_interval):
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
