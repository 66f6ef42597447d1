"""Replay against real LocalStack S3, Postgres and the broker: raw NEAR Intents quotes from
the archive (and from the topic) rebuild identical norm events; a changed normalizer gives a
diff report; a second replay into the same target adds nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from kairos.archive.flush import flush
from kairos.archive.objectstore import ObjectStore
from kairos.archive.replay import ReplayReport, iter_report_lines, run_replay
from kairos.archive.staging import SealPolicy
from kairos.bus.kafka import make_producer, send_records
from kairos.contracts.codec import KafkaRecord, kafka_to_cloudevent, to_cloudevent, to_kafka
from kairos.runtime.loader import load_func_module
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic

from tests.archive.helpers import T0, quote

pytestmark = pytest.mark.slow  # real functions, two replays, a broker: ~20-60 s

N = 60
RAW, NORM = "raw.near_intents.quote", "norm.swap_demand"
START, END = T0 - timedelta(hours=1), T0 + timedelta(hours=4)


@pytest.fixture
def pipeline(database_url: str, kafka_bootstrap: str, store: ObjectStore) -> Iterator[dict[str, str]]:
    """The live side: N raw quotes (one refused by the normalizer) published to their topic,
    normalized by normalize-near-intents, both archived by the archiver and flushed to S3."""
    create_topics(kafka_bootstrap)
    env = runtime_env(database_url, kafka_bootstrap)
    raws = [quote(i, T0 + timedelta(minutes=2 * i)) for i in range(N)]
    raws.append(quote(N, T0, exact_amount_in="not-a-number"))  # the normalizer refuses it (dead letter)
    producer = make_producer(kafka_bootstrap)
    send_records(producer, [(RAW, to_kafka(e)) for e in raws])
    producer.close()
    with in_process("normalize-near-intents", env) as norm, in_process("archiver", env) as archiver:
        outcomes = norm.process_batch([to_cloudevent(e) for e in raws])
        assert sum(o.status == 204 for o in outcomes) == N
        assert norm.flush(20)
        outputs = _outbox_events(database_url, NORM)
        assert len(outputs) == N
        archived = archiver.process_batch([to_cloudevent(e) for e in raws] + outputs)
        assert all(o.status == 204 for o in archived)
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert flush(conn, store, SealPolicy(max_events=25), force=True).error is None
    yield env


def _outbox_events(url: str, topic: str) -> list[Any]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT record_key, headers, value FROM outbox WHERE topic = %s ORDER BY id",
                            (topic,)).fetchall()  # fmt: skip
    return [
        kafka_to_cloudevent(KafkaRecord(key=bytes(k), value=bytes(v),
                                        headers=tuple((str(a), str(b).encode()) for a, b in h)))
        for k, h, v in rows
    ]  # fmt: skip


def replay(env: dict[str, str], store: ObjectStore, into: str, source: str = "archive") -> ReplayReport:
    report = run_replay(source=source, topics=[RAW], start=START, end=END, into=into, env=env, store=store,  # type: ignore[arg-type]
                        stages=["normalize-near-intents"])
    print("\n".join(iter_report_lines(report)))
    return report


def test_replaying_raw_quotes_from_the_archive_rebuilds_identical_norm_events_and_twice_adds_nothing(
    pipeline: dict[str, str], store: ObjectStore, kafka_bootstrap: str
) -> None:
    name = f"t{uuid.uuid4().hex[:8]}"
    first = replay(pipeline, store, name)
    assert first.read == N + 1 and first.published == N + 1 and first.already == 0
    assert first.outcomes["normalize-near-intents: handled"] == N
    assert first.outcomes["normalize-near-intents: refused 400 invalid_event"] == 1
    (cmp,) = first.comparisons
    assert cmp.topic == NORM and cmp.identical and cmp.original == cmp.replayed == N
    # the copy's topics got the inputs and the outputs, under its prefix, in the same partitions
    assert len(read_topic(kafka_bootstrap, f"replay.{name}.{RAW}", expect=N + 1)) == N + 1
    assert len(read_topic(kafka_bootstrap, f"replay.{name}.{NORM}", expect=N)) == N

    second = replay(pipeline, store, name)
    assert second.published == 0 and second.already == N + 1
    assert not second.outcomes  # nothing reached a stage again
    assert second.output_digest == first.output_digest and second.outputs == first.outputs
    assert second.comparisons[0].identical
    assert len(read_topic(kafka_bootstrap, f"replay.{name}.{RAW}", expect=N + 2, timeout=3)) == N + 1


def test_a_changed_normalizer_gives_a_diff_report(
    pipeline: dict[str, str], store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_func_module("normalize-near-intents")
    original = module.normalize_quote

    def changed(raw: Any, observed_at: Any) -> Any:
        demand = original(raw, observed_at=observed_at)
        if demand.quote_id.endswith("7"):
            return demand.model_copy(update={"amount_raw": demand.amount_raw + "0"})
        return demand

    monkeypatch.setattr(module, "normalize_quote", changed)
    report = replay(pipeline, store, f"t{uuid.uuid4().hex[:8]}")
    (cmp,) = report.comparisons
    assert not cmp.identical
    assert len(cmp.differing) == 6  # q-7, q-17, ... q-57
    assert all(keys == ["data.amount_raw"] for _id, keys in cmp.differing)
    assert not cmp.only_original and not cmp.only_replayed
    assert any("DIFFERS" in line for line in iter_report_lines(report))


def test_replaying_from_the_topic_rebuilds_the_same_norm_events(
    pipeline: dict[str, str], store: ObjectStore, kafka_bootstrap: str
) -> None:
    report = replay(pipeline, store, f"t{uuid.uuid4().hex[:8]}", source="topic")
    # the module's broker keeps the quotes of every test of this module: each published N + 1
    assert report.read >= N + 1 and report.read % (N + 1) == 0
    (cmp,) = report.comparisons
    assert cmp.identical and cmp.replayed == report.read // (N + 1) * N
