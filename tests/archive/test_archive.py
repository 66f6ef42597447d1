"""The archive against a real S3 (LocalStack) and Postgres: exactly once per event through
redeliveries and crashes, verify's findings, and an S3 outage that loses nothing."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from kairos.archive import staging
from kairos.archive.flush import FlushSettings, backlog_alerts, flush
from kairos.archive.inventory import manifest, summarize, verify
from kairos.archive.layout import read_lines
from kairos.archive.objectstore import ObjectStore
from kairos.archive.staging import SealPolicy
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import Envelope
from kairos.runtime.function import KairosFunction
from kairos_testkit.functions import in_process, runtime_env

from tests.archive.helpers import archived_ids, mixed, quote

SMALL = SealPolicy(max_events=40, max_bytes=1 << 30, max_age_s=3600)


@pytest.fixture
def archiver(database_url: str, kafka_bootstrap: str) -> Iterator[KairosFunction]:
    with in_process("archiver", runtime_env(database_url, kafka_bootstrap)) as fn:
        yield fn


def stage_all(fn: KairosFunction, events: list[Envelope[Any]]) -> None:
    outcomes = fn.process_batch([to_cloudevent(e) for e in events])
    assert all(o.status == 204 for o in outcomes), [o for o in outcomes if o.status != 204][:3]


def conn_for(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def test_several_topics_are_archived_once_despite_redelivery(
    archiver: KairosFunction, database_url: str, store: ObjectStore
) -> None:
    events = mixed(150)
    stage_all(archiver, events)
    stage_all(archiver, events[:60])  # at-least-once: a redelivered batch
    with conn_for(database_url) as conn:
        result = flush(conn, store, SMALL, force=True)
        assert result.error is None and result.backlog.events == 0
        ids = archived_ids(conn, store)
        assert set(ids) == {e.meta.id for e in events} and max(ids.values()) == 1
        rows = manifest(conn)
        assert {r.topic for r in rows} == {"raw.near_intents.quote", "exec.trade_result"}
        assert all(r.count <= SMALL.max_events for r in rows)
        keys = {k for k, _ in store.list_keys()}
        assert keys == {r.key for r in rows}
        for key in keys:
            assert "/dt=2026-11-02/hour=" in key and key.endswith(".jsonl.gz")
        days = summarize(rows)
        assert {d.topic: sorted(d.hours) for d in days}["raw.near_intents.quote"] == [9, 10, 11]
        # every line carries the whole envelope: attributes and data
        body = store.get(rows[0].key)
        assert body is not None
        first = next(read_lines(body)).event
        assert {"id", "type", "source", "time", "ingestedat", "partitionkey", "schemaversion", "data"} <= first.keys()


def test_a_crash_between_upload_and_manifest_leaves_nothing_doubled_or_missing(
    archiver: KairosFunction, database_url: str, store: ObjectStore
) -> None:
    events = mixed(100)
    stage_all(archiver, events)
    with conn_for(database_url) as conn:
        sealed = staging.seal_ready(conn, "", SMALL, force=True)
        assert sealed
        # the flusher uploads half of the sealed objects, then dies before completing any
        for item in sealed[: len(sealed) // 2]:
            built = staging.rebuild(conn, "", item)
            store.put(built.key, built.body, sha256=built.sha256, count=built.count)
        stage_all(archiver, events[:30])  # and redeliveries keep arriving meanwhile
        result = flush(conn, store, SMALL, force=True)
        assert result.error is None
        ids = archived_ids(conn, store)
        assert set(ids) == {e.meta.id for e in events} and max(ids.values()) == 1
        assert {k for k, _ in store.list_keys()} == {r.key for r in manifest(conn)}
        assert {r.key for r in manifest(conn)} == {p.key for p in sealed}  # the same keys as sealed before the crash
        assert verify(conn, store).ok


@pytest.mark.slow
def test_killing_the_flusher_again_and_again_loses_and_doubles_nothing(
    archiver: KairosFunction, database_url: str, bucket_env: dict[str, str], store: ObjectStore
) -> None:
    events = mixed(1200)
    stage_all(archiver, events)
    # small objects (240 of them) so a whole flush outlasts the kill times on a fast machine too
    env = {**os.environ, **bucket_env, "DATABASE_URL": database_url, "KAIROS_ARCHIVE_MAX_EVENTS": "5"}
    rng = random.Random(7)
    kills = 0
    for _ in range(12):  # until three runs were killed mid-flush (twelve at most)
        proc = subprocess.Popen([sys.executable, "-m", "kairos.cli", "archive", "flush", "--all"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 3.0))
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
        if kills >= 3:
            break
    assert kills, "the flusher was never killed mid-run: make the run longer"
    done = subprocess.run([sys.executable, "-m", "kairos.cli", "archive", "flush", "--all"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with conn_for(database_url) as conn:
        ids = archived_ids(conn, store)
        assert len(ids) == len(events) and max(ids.values()) == 1
        report = verify(conn, store)
        assert report.ok, report.problems  # no object S3 holds outside the manifest


def test_verify_reports_a_corrupt_and_a_missing_object(
    archiver: KairosFunction, database_url: str, store: ObjectStore, bucket_env: dict[str, str]
) -> None:
    stage_all(archiver, mixed(90))
    with conn_for(database_url) as conn:
        flush(conn, store, SMALL, force=True)
        rows = manifest(conn)
        assert verify(conn, store).ok
        store.client.put_object(Bucket=store.bucket, Key=rows[0].key, Body=b"not gzip at all")
        store.delete(rows[1].key)
        # well-formed, same count and first/last ids, one event's source changed: only the checksum sees it
        body = store.get(rows[2].key)
        assert body is not None
        lines = gzip.decompress(body).splitlines(keepends=True)
        lines[1] = lines[1].replace(b"/test", b"/tEst", 1)
        assert lines[1] != gzip.decompress(body).splitlines(keepends=True)[1]
        store.client.put_object(Bucket=store.bucket, Key=rows[2].key, Body=gzip.compress(b"".join(lines)))
        store.client.put_object(Bucket=store.bucket, Key="raw.near_intents.quote/dt=2026-11-02/hour=09/stray.jsonl.gz",
                                Body=b"x")
        report = verify(conn, store)
    found = {(p.kind, p.key) for p in report.problems}
    assert ("corrupt", rows[0].key) in found
    assert ("missing", rows[1].key) in found
    assert ("corrupt", rows[2].key) in found
    assert ("unlisted", "raw.near_intents.quote/dt=2026-11-02/hour=09/stray.jsonl.gz") in found
    cli = subprocess.run([sys.executable, "-m", "kairos.cli", "archive", "verify"], capture_output=True, text=True,
                         env={**os.environ, **bucket_env, "DATABASE_URL": database_url}, timeout=120)
    assert cli.returncode == 1
    assert "corrupt" in cli.stdout and "missing" in cli.stdout and rows[1].key in cli.stdout


def test_s3_down_for_a_while_then_back_loses_nothing(
    archiver: KairosFunction, database_url: str, store: ObjectStore, store_for: Callable[[dict[str, str]], ObjectStore]
) -> None:
    from kairos.localinfra.ports import free_port

    down = store_for({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})  # nothing listens there
    settings = FlushSettings(policy=SMALL, budget_s=30, alert_events=100, alert_age_s=3600)
    first, second = mixed(80), mixed(40)
    stage_all(archiver, first)
    with conn_for(database_url) as conn:
        result = flush(conn, down, SMALL, force=True)
        assert result.error is not None and result.objects == 0
        codes = {a.code for a in backlog_alerts(result, settings)}
        assert codes == {"ARCHIVE_UPLOAD_FAILED", "ARCHIVE_BACKLOG"}  # 120 staged >= 100
        stage_all(archiver, second)  # the archiver keeps staging while S3 is down
        again = flush(conn, down, SMALL, force=True)
        assert again.error is not None
        assert again.backlog.events == len(first) + len(second)
        back = flush(conn, store, SMALL, force=True)
        assert back.error is None and back.backlog.events == 0 and back.backlog.pending_objects == 0
        assert backlog_alerts(back, settings) == []
        ids = archived_ids(conn, store)
        assert set(ids) == {e.meta.id for e in first + second} and max(ids.values()) == 1
        assert verify(conn, store).ok


def test_objects_are_sealed_when_due_not_before(
    archiver: KairosFunction, database_url: str, store: ObjectStore
) -> None:
    now = datetime.now(UTC)
    stage_all(archiver, mixed(10, hours=1))  # an hour that is over
    stage_all(archiver, [quote(1000 + i, now) for i in range(5)])  # the current hour
    with conn_for(database_url) as conn:
        # the past hour got events a moment ago: wait for the grace period before sealing it
        assert flush(conn, store, SealPolicy(max_events=1000, max_age_s=3600, grace_s=120)).objects == 0
        # once nothing arrived for the grace period: one object per topic of the finished hour
        assert flush(conn, store, SealPolicy(max_events=1000, max_age_s=3600, grace_s=0)).objects == 2
        # the current hour waits for its end, or for max_age_s
        assert flush(conn, store, SealPolicy(max_events=1000, max_age_s=3600, grace_s=0)).objects == 0
        assert flush(conn, store, SealPolicy(max_events=3, max_age_s=3600, grace_s=0)).objects == 1
        assert flush(conn, store, SealPolicy(max_events=1000, max_age_s=0, grace_s=0)).objects == 1


def test_the_archiver_subscribes_to_every_archived_topic() -> None:
    from kairos.archive.archiver import topics_by_type
    from kairos.archive.layout import is_archived_topic
    from kairos.catalog import load_catalog

    catalog = load_catalog()
    wanted = {t.name for t in catalog.topics if is_archived_topic(t.name) and not t.dead_letter}
    subscribed = {s.topic for s in catalog.function("archiver").subscriptions}
    assert subscribed == wanted, f"add {sorted(wanted - subscribed)} to the archiver's subscriptions"
    assert all(s.ordering == "ordered" for s in catalog.function("archiver").subscriptions)
    assert {topic for topic, _ in topics_by_type("archiver").values()} == wanted

