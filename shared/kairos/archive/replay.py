"""Replay archived (or still retained) events into an isolated copy of the pipeline.

The copy is a database of its own (``kairos_replay_<name>`` on the same server, migrated
like any) and a topic prefix (``replay.<name>.``). Input events are re-published to the
prefixed topics in their original order per partition and handed, in that order, to the
stages that subscribe to them, run in this process with ``KairosFunction.process_batch``
against the copy's database; their outputs (read from the copy's outbox) are published to
prefixed topics too and handed on to the stages subscribing to those, and so on. Stages that
may reach outside the cluster (``internet: true``: the executor, the reconciler, ...) never
run in a replay, nor does the archiver.

Idempotent: the copy's ``replay_ledger`` remembers every input it received (a second replay
re-publishes nothing), the stages' inboxes dedupe, and outputs are published from the outbox
once. Deterministic: output ids derive from their causes, so replaying the same inputs with
the same code yields the same outputs; the digest leaves ``ingestedat`` (when an event was
made) out, and compares everything else.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from cloudevents.core.v1.event import CloudEvent
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kairos.archive.inventory import manifest
from kairos.archive.layout import ArchivedEvent, read_lines
from kairos.archive.objectstore import ObjectStore
from kairos.bus.kafka import consumer_settings, ensure_topics, make_producer, send_records
from kairos.catalog import Catalog, load_catalog
from kairos.contracts.codec import (
    KafkaRecord,
    cloudevent_to_http_structured,
    cloudevent_to_kafka,
    http_to_cloudevent,
    kafka_to_cloudevent,
)
from kairos.errors import ConfigError
from kairos.runtime.db import migrate
from kairos.runtime.function import KairosFunction, Outcome
from kairos.runtime.loader import load_func_module

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
NEVER_REPLAYED = {"archiver"}
VOLATILE_ATTRIBUTES = ("ingestedat",)
BATCH = 500

Source = Literal["archive", "topic"]


# --- events as plain CloudEvent JSON ---------------------------------------------------


def canonical(event: Mapping[str, Any]) -> str:
    """The bytes an event is compared and digested by: every attribute but ``ingestedat``
    (the time it was made, which a replay cannot reproduce), keys sorted."""
    return json.dumps({k: v for k, v in event.items() if k not in VOLATILE_ATTRIBUTES},
                      sort_keys=True, separators=(",", ":"))  # fmt: skip


def digest(events: Iterable[Mapping[str, Any]]) -> str:
    """sha256 over the canonical form of ``events`` sorted by id (order-independent)."""
    h = hashlib.sha256()
    for line in sorted(canonical(e) for e in events):
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


def event_json(ce: CloudEvent) -> dict[str, Any]:
    _headers, body = cloudevent_to_http_structured(ce)
    return dict(json.loads(body))


def to_cloudevent(event: Mapping[str, Any]) -> CloudEvent:
    return http_to_cloudevent({"content-type": "application/cloudevents+json"}, json.dumps(event).encode())


# --- reading the source -----------------------------------------------------------------


def _in_window(event: Mapping[str, Any], start: datetime, end: datetime) -> bool:
    ts = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    return start <= ts < end


def read_archive(conn: psycopg.Connection, store: ObjectStore, topics: Sequence[str], start: datetime,
                 end: datetime) -> list[ArchivedEvent]:
    """Archived events of ``topics`` with ``start <= time < end``, in original order per
    (topic, partition): arrival order, which is the topic's order within a partition."""
    out: list[ArchivedEvent] = []
    for row in manifest(conn, topics, start.date(), end.date()):
        body = store.get(row.key)
        if body is None:
            raise ConfigError(f"archive object {row.key} is missing from S3 (kairos archive verify); refusing to"
                              " replay a window with a hole")
        out += [e for e in read_lines(body) if _in_window(e.event, start, end)]
    out.sort(key=lambda e: (e.topic, e.partition, e.arrival))
    return out


def read_topic(bootstrap: str, profile: str, topics: Sequence[str], start: datetime, end: datetime,
               idle_s: float = 2.0) -> list[ArchivedEvent]:
    """Events still on ``topics`` (retention permitting) in the window, in offset order per
    partition; reads from the beginning until nothing new came for ``idle_s`` seconds (the
    local broker's end offsets are not trusted)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False,
                             client_id="kairos-replay", max_poll_records=1000, **consumer_settings(profile))
    out: list[ArchivedEvent] = []
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_s:
            batch = consumer.poll(timeout_ms=200)
            for tp, records in batch.items():
                for rec in records:
                    record = KafkaRecord(key=rec.key, value=rec.value, headers=tuple(rec.headers or ()))
                    event = event_json(kafka_to_cloudevent(record))
                    if _in_window(event, start, end):
                        out.append(ArchivedEvent(tp.topic, tp.partition, rec.offset, event))
            if batch:
                quiet_since = time.monotonic()
    finally:
        consumer.close()
    out.sort(key=lambda e: (e.topic, e.partition, e.arrival))
    return out


# --- the target ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    database_url: str
    topic_prefix: str

    def topic(self, name: str) -> str:
        return self.topic_prefix + name


def prepare_target(name: str, base_url: str) -> Target:
    """The copy's database (created when missing, then migrated) and topic prefix."""
    if not NAME.match(name):
        raise ConfigError(f"replay target name {name!r}: use 1-40 of a-z, 0-9, '-', '_', starting with a letter")
    dbname = "kairos_replay_" + name.replace("-", "_")
    params = conninfo_to_dict(base_url)
    if params.get("dbname") == dbname:
        raise ConfigError("the replay target cannot be the database the pipeline runs on")
    with psycopg.connect(base_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    params["dbname"] = dbname
    url = make_conninfo("", **params)
    migrate(url)
    return Target(name=name, database_url=url, topic_prefix=f"replay.{name}.")


def stages_for(catalog: Catalog, topics: Sequence[str], explicit: Sequence[str] | None = None) -> list[str]:
    """The functions a replay of ``topics`` runs: those subscribing to them and, following
    their outputs, to what they publish; never one with ``internet`` or the archiver."""
    if explicit:
        for name in explicit:
            fn = catalog.function(name)
            if fn.internet or name in NEVER_REPLAYED:
                raise ConfigError(f"{name} cannot run in a replay (it reaches outside the cluster or is the archiver)")
        return list(explicit)
    chosen: list[str] = []
    frontier = list(topics)
    seen_topics: set[str] = set()
    while frontier:
        topic = frontier.pop(0)
        if topic in seen_topics:
            continue
        seen_topics.add(topic)
        for fn in catalog.functions:
            if fn.internet or fn.name in NEVER_REPLAYED or fn.name in chosen:
                continue
            if any(sub.topic == topic for sub in fn.subscriptions):
                chosen.append(fn.name)
                frontier += [t for t in fn.publishes if t != "*"]
    return chosen


# --- the run ---------------------------------------------------------------------------


@dataclass
class ReplayReport:
    target: str
    source: str
    read: int = 0
    published: int = 0  # new inputs re-published (0 on a second run)
    already: int = 0  # inputs the target had received before
    outcomes: Counter[str] = field(default_factory=Counter)  # per stage: handled / duplicate / refused codes
    outputs: Counter[str] = field(default_factory=Counter)  # per topic: outputs the target holds
    output_digest: str = ""
    seconds: float = 0.0  # in all: reading, preparing the copy, starting the stages, feeding
    feed_seconds: float = 0.0  # from the first event re-published to the last output published
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Comparison:
    """Replayed outputs of one topic against the original events with the same causes."""

    topic: str
    original: int
    replayed: int
    original_digest: str
    replayed_digest: str
    differing: list[tuple[str, list[str]]] = field(default_factory=list)  # (event id, attributes that differ)
    only_original: list[str] = field(default_factory=list)
    only_replayed: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.original_digest == self.replayed_digest


Progress = Callable[[int], None]


class Replayer:
    """One replay run into ``target``: started stages, a producer, the pacing."""

    def __init__(self, target: Target, env: Mapping[str, str], stages: Sequence[str], *,
                 rate: float | None = None, catalog: Catalog | None = None) -> None:
        self.target = target
        self.catalog = catalog or load_catalog()
        self.rate = rate
        self.env = {"LOG_LEVEL": "WARNING", **env, "DATABASE_URL": target.database_url}
        self.bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
        self.stage_names = list(stages)
        self.functions: dict[str, KairosFunction] = {}
        self.subscribers: dict[str, list[str]] = defaultdict(list)
        for name in self.stage_names:
            for sub in self.catalog.function(name).subscriptions:
                self.subscribers[sub.topic].append(name)
        self.producer = make_producer(self.bootstrap, client_id=f"kairos-replay-{target.name}", bulk=True)
        self._sent = 0
        self._t0 = time.monotonic()

    def __enter__(self) -> Replayer:
        topics = {t.name for t in self.catalog.topics if not t.dead_letter}
        ensure_topics(self.bootstrap, [(self.target.topic(t), self.catalog.topic(t).partitions, {}) for t in topics])
        for name in self.stage_names:
            fn: KairosFunction = load_func_module(name).new()
            fn.start({**self.catalog.function(name).env, **self.env})
            fn.wait_ready(120)
            if fn.publisher is not None:  # outputs stay in the copy's outbox; the replay publishes them
                fn.publisher.close()
                fn.publisher = None
            self.functions[name] = fn
        return self

    def __exit__(self, *exc: object) -> None:
        for fn in self.functions.values():
            fn.stop()
        self.producer.close(timeout=5)

    def _pace(self, n: int) -> None:
        self._sent += n
        if self.rate:
            ahead = self._sent / self.rate - (time.monotonic() - self._t0)
            if ahead > 0:
                time.sleep(ahead)

    def feed(self, events: Sequence[ArchivedEvent], report: ReplayReport, progress: Progress | None = None) -> None:
        """Re-publish and handle ``events`` (sorted per topic and partition) in batches."""
        with psycopg.connect(self.target.database_url, autocommit=True) as conn:
            for i in range(0, len(events), BATCH):
                chunk = events[i : i + BATCH]
                fresh = self._claim(conn, chunk)
                report.already += len(chunk) - len(fresh)
                by_topic: dict[str, list[CloudEvent]] = defaultdict(list)
                records: list[tuple[str, KafkaRecord]] = []
                for ev in chunk:
                    if (ev.topic, ev.id) not in fresh:
                        continue
                    ce = to_cloudevent(ev.event)
                    by_topic[ev.topic].append(ce)
                    records.append((self.target.topic(ev.topic), cloudevent_to_kafka(ce)))
                if records:
                    send_records(self.producer, records, timeout=30)
                    report.published += len(records)
                for topic, ces in by_topic.items():
                    self._handle(topic, ces, report)
                self._drain_outputs(conn, report)
                self._pace(len(chunk))
                if progress:
                    progress(len(chunk))

    @staticmethod
    def _claim(conn: psycopg.Connection, chunk: Sequence[ArchivedEvent]) -> set[tuple[str, str]]:
        rows = conn.execute(
            "INSERT INTO replay_ledger (topic, event_id) SELECT * FROM unnest(%s::text[], %s::text[])"
            " ON CONFLICT DO NOTHING RETURNING topic, event_id",
            ([e.topic for e in chunk], [e.id for e in chunk]),
        ).fetchall()
        return {(t, i) for t, i in rows}

    def _handle(self, topic: str, ces: Sequence[CloudEvent], report: ReplayReport) -> None:
        for name in self.subscribers.get(topic, []):
            for outcome in self.functions[name].process_batch(ces):
                report.outcomes[f"{name}: {_kind(outcome)}"] += 1

    def _drain_outputs(self, conn: psycopg.Connection, report: ReplayReport) -> None:
        """Publish the copy's unpublished outputs to prefixed topics, oldest first, and hand
        them to the stages subscribing to their topics, until none is left."""
        while True:
            with conn.transaction():
                rows = conn.execute(
                    "SELECT id, topic, record_key, headers, value FROM outbox WHERE published_at IS NULL"
                    " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                    (BATCH * 4,),
                ).fetchall()
                if not rows:
                    return
                records = [
                    (topic, KafkaRecord(key=bytes(k) if k is not None else None, value=bytes(v),
                                        headers=tuple((str(a), str(b).encode()) for a, b in headers)))
                    for _id, topic, k, headers, v in rows
                ]  # fmt: skip
                send_records(self.producer, [(self.target.topic(t), r) for t, r in records], timeout=30)
                conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)", ([r[0] for r in rows],))
            by_topic: dict[str, list[CloudEvent]] = defaultdict(list)
            for topic, rec in records:
                if self.subscribers.get(topic):
                    by_topic[topic].append(kafka_to_cloudevent(rec))
            for topic, ces in by_topic.items():
                self._handle(topic, ces, report)

    def outputs(self) -> dict[str, list[dict[str, Any]]]:
        """Every output the copy holds, per catalog topic, as CloudEvent JSON."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with psycopg.connect(self.target.database_url, autocommit=True) as conn:
            rows = conn.execute("SELECT topic, record_key, headers, value FROM outbox ORDER BY id")
            for topic, k, headers, v in rows:
                rec = KafkaRecord(key=bytes(k) if k is not None else None, value=bytes(v),
                                  headers=tuple((str(a), str(b).encode()) for a, b in headers))
                out[topic].append(event_json(kafka_to_cloudevent(rec)))
        return out


def _kind(outcome: Outcome) -> str:
    if outcome.duplicate:
        return "duplicate"
    return "handled" if outcome.status < 300 else f"refused {outcome.status} {outcome.code}"


def compare(topic: str, original: Iterable[Mapping[str, Any]], replayed: Iterable[Mapping[str, Any]],
            causes: set[str]) -> Comparison:
    """The replayed outputs of ``topic`` against the originals caused by the same inputs."""
    orig = {str(e["id"]): e for e in original if e.get("causationid") in causes}
    mine = {str(e["id"]): e for e in replayed if e.get("causationid") in causes}
    cmp = Comparison(topic, len(orig), len(mine), digest(orig.values()), digest(mine.values()))
    for eid in sorted(orig.keys() & mine.keys()):
        a, b = orig[eid], mine[eid]
        if canonical(a) != canonical(b):
            keys = sorted(k for k in (a.keys() | b.keys()) if k not in VOLATILE_ATTRIBUTES and a.get(k) != b.get(k))
            if "data" in keys and isinstance(a.get("data"), dict) and isinstance(b.get("data"), dict):
                da, db = a["data"], b["data"]
                keys.remove("data")
                keys += [f"data.{k}" for k in sorted(da.keys() | db.keys()) if da.get(k) != db.get(k)]
            cmp.differing.append((eid, keys))
    cmp.only_original = sorted(orig.keys() - mine.keys())
    cmp.only_replayed = sorted(mine.keys() - orig.keys())
    return cmp


def run_replay(
    *,
    source: Source,
    topics: Sequence[str],
    start: datetime,
    end: datetime,
    into: str,
    env: Mapping[str, str],
    store: ObjectStore | None = None,
    stages: Sequence[str] | None = None,
    rate: float | None = None,
    compare_outputs: bool = True,
    progress: Callable[[int], Progress] | None = None,
) -> ReplayReport:
    """Read, re-publish, handle, digest and (optionally) compare; see the module docstring.

    ``progress(total)`` returns a callback advanced by the events handled so far.
    """
    catalog = load_catalog()
    for t in topics:
        catalog.topic(t)  # KeyError names an unknown topic
    base_url = env["DATABASE_URL"]
    t0 = time.monotonic()

    def read(which: Sequence[str]) -> list[ArchivedEvent]:
        if source == "archive":
            if store is None:
                raise ConfigError("replay from the archive needs the S3 settings (AWS_ENDPOINT_URL, bucket)")
            with psycopg.connect(base_url, autocommit=True) as conn:
                return read_archive(conn, store, which, start, end)
        return read_topic(env["KAFKA_BOOTSTRAP_SERVERS"], env.get("KAIROS_KAFKA_PROFILE", "kafka"), which, start, end)

    events = read(topics)
    target = prepare_target(into, base_url)
    chosen = stages_for(catalog, topics, stages)
    report = ReplayReport(target=into, source=source, read=len(events))
    with Replayer(target, env, chosen, rate=rate, catalog=catalog) as replayer:
        t_feed = time.monotonic()
        replayer.feed(events, report, progress(len(events)) if progress else None)
        report.feed_seconds = time.monotonic() - t_feed
        outputs = replayer.outputs()
    report.seconds = time.monotonic() - t0
    report.outputs = Counter({t: len(v) for t, v in outputs.items()})
    report.output_digest = digest(e for v in outputs.values() for e in v)
    if compare_outputs:
        causes = {e.id for e in events}
        produced = sorted(outputs)
        originals = _group(read(produced)) if produced else {}
        for topic in produced:
            if source == "archive" and topic not in originals:
                continue  # not archived (commands): nothing to compare against
            report.comparisons.append(compare(topic, originals.get(topic, []), outputs[topic], causes))
    return report


def _group(events: Iterable[ArchivedEvent]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        out[e.topic].append(e.event)
    return out


def iter_report_lines(report: ReplayReport, *, max_diffs: int = 20) -> Iterator[str]:
    """The human report: counts, the output digest, and per compared topic equal or a diff."""
    yield (f"replay into {report.target} from {report.source}: {report.read} events read, {report.published}"
           f" re-published, {report.already} already in the target; {report.seconds:.1f} s"
           f" ({report.rate:.0f} events/s)")  # fmt: skip
    for key, n in sorted(report.outcomes.items()):
        yield f"  {key}: {n}"
    for topic, n in sorted(report.outputs.items()):
        yield f"  outputs on {topic}: {n}"
    yield f"output digest: sha256:{report.output_digest}"
    for c in report.comparisons:
        if c.identical:
            yield f"{c.topic}: identical to the original ({c.replayed} events, sha256:{c.replayed_digest[:16]}…)"
            continue
        yield (f"{c.topic}: DIFFERS from the original: {c.original} original, {c.replayed} replayed,"
               f" {len(c.differing)} differ, {len(c.only_original)} only original,"
               f" {len(c.only_replayed)} only replayed")
        for eid, keys in c.differing[:max_diffs]:
            yield f"  {eid}: {', '.join(keys)}"
        for eid in c.only_original[:max_diffs]:
            yield f"  {eid}: not produced by the replay"
        for eid in c.only_replayed[:max_diffs]:
            yield f"  {eid}: produced only by the replay"
