"""Archive and replay throughput against LocalStack S3, embedded Postgres and Tansu.

Archive: N raw NEAR Intents quotes over three hours are staged by the archiver's handler
path (``process_batch``, batches of 500: what a backfill or a busy delivery does) and
flushed by archive-flush's code into LocalStack; staging, flushing and the two together
are timed separately, in this one process. Replay: the same quotes are replayed from the
archive into a fresh copy (re-published to its prefixed topic and normalized by
normalize-near-intents in process), timed from the first event fed to the last output
published, and in all (reading the objects, preparing the copy, starting the stage).

Run: ``make bench ARGS="archive --events 50000"`` (LocalStack from .venv-localstack:
``scripts/ensure-test-tools.sh localstack``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
from kairos.archive.flush import flush
from kairos.archive.objectstore import ObjectStore, S3Settings
from kairos.archive.replay import run_replay
from kairos.archive.staging import SealPolicy
from kairos.bus.kafka import ensure_catalog_topics
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import Envelope
from kairos.contracts.near_intents import RawNearIntentsQuote
from kairos.runtime.db import migrate
from kairos_testkit.events import quote_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.servers import embedded_servers

T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def quotes(n: int) -> Iterator[Envelope[RawNearIntentsQuote]]:
    for i in range(n):
        at = T0 + timedelta(seconds=i * 3 * 3600 / n)
        yield quote_event(f"b-{i}", at=at, subscription="bench", exact_amount_in=str((1 + i % 50) * 10**23))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench archive")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    with embedded_servers("kairos-bench-archive-", localstack=True) as servers:
        assert servers.s3 is not None
        ensure_catalog_topics(servers.bootstrap)
        migrate(servers.url)
        env = {**runtime_env(servers.url, servers.bootstrap), **servers.s3.env()}
        store = ObjectStore(S3Settings.from_env(env))
        ces = [to_cloudevent(e) for e in quotes(args.events)]
        size = sum(len(str(ce.get_data())) for ce in ces[:1000]) / 1000
        print(f"{args.events} raw quotes (~{size:.0f} bytes of data each), batches of {args.batch}")
        with in_process("archiver", env) as archiver:
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, len(ces), args.batch):
                archiver.process_batch(ces[i : i + args.batch])
            staged_s, staged_cpu = time.perf_counter() - t0, time.process_time() - c0
        with psycopg.connect(servers.url, autocommit=True) as conn:
            t1, c1 = time.perf_counter(), time.process_time()
            result = flush(conn, store, SealPolicy(max_events=50_000), force=True)
            flush_s, flush_cpu = time.perf_counter() - t1, time.process_time() - c1
        assert result.error is None and result.events == args.events, result
        n = args.events
        print(f"archive: staging {n / staged_s:,.0f} events/s ({staged_s:.1f} s); flush to S3 {n / flush_s:,.0f}"
              f" events/s ({flush_s:.1f} s, {result.objects} objects);"
              f" together {n / (staged_s + flush_s):,.0f} events/s")
        print(f"  this process's CPU: staging {staged_cpu * 1e6 / n:.0f} µs/event, flush {flush_cpu * 1e6 / n:.0f}"
              " µs/event (Postgres and LocalStack run in their own processes)")
        c2 = time.process_time()
        report = run_replay(source="archive", topics=["raw.near_intents.quote"], start=T0, end=T0 + timedelta(hours=4),
                            into="bench", env=env, store=store, stages=["normalize-near-intents"])
        assert report.published == n, report
        print(f"replay: {n / report.feed_seconds:,.0f} events/s fed (re-published + normalized + outputs published,"
              f" {report.feed_seconds:.1f} s); {report.rate:,.0f} events/s in all ({report.seconds:.1f} s with reading"
              f" {result.objects} objects, preparing the copy, starting the stage)")
        print(f"  this process's CPU: {(time.process_time() - c2) * 1e6 / n:.0f} µs/event in all")
    return 0
