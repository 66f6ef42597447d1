"""The local KafkaSource: one consumer group per subscription, POSTing to the function.

Semantics copied from Knative's KafkaSource dispatcher:
- ordered (default): a partition's next record waits for the answer to the previous one;
  unordered: a batch's records are dispatched concurrently;
- each record is POSTed as a binary-mode CloudEvent; a record that is not a CloudEvent is
  wrapped (id ``partition:<p>/offset:<o>``, type ``dev.knative.kafka.event``);
- unlike Knative, a record that claims to be a CloudEvent (``ce_*`` headers or a
  ``application/cloudevents*`` content type) but is not exactly one with its required
  attributes (checked before any SDK default) is dead-lettered here, wrapped, with the
  reason (``knativeerrorcode`` 400) instead of being POSTed: an id the SDK would invent
  defeats the function's inbox;
- a delivery survives any record: an unexpected exception while delivering one is
  dead-lettered as ``delivery_error`` with its reason, and the partition moves on;
- a dead-letter record that would exceed the broker's record limit is sent with its data
  truncated (``kairostruncated`` = original size in bytes), never retried forever;
- offsets are committed only after a 2xx or after the record was dead-lettered, so a
  crash redelivers whatever was not answered (the function's inbox dedupes);
- retryable failures follow the subscription's retry policy; other 4xx are dead-lettered
  at once with ``knativeerrorcode``, ``knativeerrordata`` (base64 body) and
  ``knativeerrordest``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cloudevents.core.v1.event import CloudEvent
from kafka import KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from kairos.bus.kafka import make_consumer, make_producer, send_records
from kairos.catalog.model import DeliveryPolicy
from kairos.contracts.codec import (
    KafkaRecord,
    cloudevent_to_kafka,
    is_cloudevent_record,
    kafka_to_cloudevent,
    wrap_plain_record,
)
from kairos.contracts.limits import EVENT_OVERHEAD_BYTES, MAX_RECORD_BYTES
from kairos.delivery.dispatch import Dispatcher, DispatchResult
from kairos.delivery.stats import DeliveryStats
from kairos.errors import InvalidEvent

log = logging.getLogger(__name__)

ERROR_DATA_LIMIT = 1024


@dataclass(frozen=True)
class KafkaSourceSpec:
    """One subscription of the catalog, bound to a sink URL."""

    name: str
    topic: str
    consumer_group: str
    sink_url: str
    policy: DeliveryPolicy
    ordering: str
    dead_letter_topic: str | None
    namespace: str = "kairos"

    @property
    def source_uri(self) -> str:
        return f"/apis/v1/namespaces/{self.namespace}/kafkasources/{self.name}#{self.topic}"


def dead_letter_event(ce: CloudEvent, result: DispatchResult, dest: str) -> CloudEvent:
    """The event as sent, plus Knative's error extensions (body base64, capped at 1 KiB)."""
    attrs = dict(ce.get_attributes())
    attrs["knativeerrordest"] = dest
    attrs["knativeerrorcode"] = str(result.status if result.status is not None else 0)
    data = result.body[:ERROR_DATA_LIMIT] if result.body else result.error.encode()[:ERROR_DATA_LIMIT]
    attrs["knativeerrordata"] = base64.b64encode(data).decode()
    return CloudEvent(attributes=attrs, data=ce.get_data())


def refusal(status: int, code: str, reason: str, attribute: str | None = None) -> DispatchResult:
    """A refusal decided by the delivery itself, shaped like a function's 4xx answer."""
    error = {"code": code, "reason": reason, **({"attribute": attribute} if attribute else {})}
    return DispatchResult(False, status, json.dumps({"error": error}).encode(), 0, reason)


def record_size(rec: KafkaRecord) -> int:
    return len(rec.value) + len(rec.key or b"") + sum(len(k) + len(v) for k, v in rec.headers)


def fit_for_broker(rec: KafkaRecord, limit: int) -> KafkaRecord:
    """``rec`` itself when it fits the record limit, else the same with its value cut so
    that it does (``ce_kairostruncated`` = the original size, content type octet-stream)."""
    if record_size(rec) + EVENT_OVERHEAD_BYTES // 4 <= limit:
        return rec
    keep = max(limit - EVENT_OVERHEAD_BYTES, 0)
    headers = [(k, v) for k, v in rec.headers if k.lower() != "content-type"]
    headers += [("content-type", b"application/octet-stream"), ("ce_kairostruncated", str(len(rec.value)).encode())]
    return KafkaRecord(key=rec.key, value=rec.value[:keep], headers=tuple(sorted(headers)))


class KafkaSourceDelivery:
    """Runs one subscription until ``stop`` is set; ``stats`` shows what it did."""

    def __init__(
        self,
        spec: KafkaSourceSpec,
        bootstrap: str,
        *,
        profile: str = "kafka",
        max_workers: int = 16,
        producer: KafkaProducer | None = None,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        self.spec = spec
        self.bootstrap = bootstrap
        self.profile = profile
        self.stats = DeliveryStats(spec.name, "kafka")
        self.max_workers = max_workers
        self.max_record_bytes = max_record_bytes
        self._producer = producer
        self._local = threading.local()
        self.stop = threading.Event()

    def _dispatcher(self) -> Dispatcher:
        disp = getattr(self._local, "dispatcher", None)
        if disp is None:
            disp = Dispatcher(self.spec.sink_url, self.spec.policy, self.stop)
            self._local.dispatcher = disp
        return disp

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = make_producer(self.bootstrap, client_id=f"dlq-{self.spec.name}")
        return self._producer

    @staticmethod
    def as_kafka_record(record: Any) -> KafkaRecord:
        return KafkaRecord(
            key=record.key if isinstance(record.key, bytes) or record.key is None else str(record.key).encode(),
            value=record.value or b"",
            headers=tuple((str(k), v or b"") for k, v in (record.headers or [])),
        )

    def wrapped(self, record: Any) -> CloudEvent:
        """The record as Knative wraps a record that is not a CloudEvent."""
        return wrap_plain_record(
            self.as_kafka_record(record),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            source=self.spec.source_uri,
        )

    def to_cloudevent(self, record: Any) -> CloudEvent:
        """The CloudEvent to POST; raises InvalidEvent for a record that claims to be a
        CloudEvent but is not a valid one (it is dead-lettered with that reason)."""
        rec = self.as_kafka_record(record)
        if is_cloudevent_record(rec):
            return kafka_to_cloudevent(rec)
        return self.wrapped(record)

    def deliver_record(self, record: Any) -> bool:
        """Deliver one record; True when its offset may be committed. Never raises: any
        record ends delivered, dead-lettered, or (stopping, no dead-letter topic, broker
        down) uncommitted for a later attempt."""
        try:
            return self._deliver(record)
        except Exception as exc:  # a bug or a record nobody foresaw: it must not kill the thread
            log.exception("delivering a record failed; dead-lettering it", extra={"subscription": self.spec.name})
            try:
                return self.dead_letter(
                    self.wrapped(record), refusal(500, "delivery_error", f"{type(exc).__name__}: {exc}")
                )
            except Exception:
                log.exception("dead-lettering the record failed too; it stays uncommitted")
                self.stats.add(failed=1)
                return False

    def _deliver(self, record: Any) -> bool:
        try:
            ce = self.to_cloudevent(record)
        except InvalidEvent as exc:
            log.warning(
                "record is not a valid CloudEvent; dead-lettering it",
                extra={"subscription": self.spec.name, "code": exc.code, "reason": str(exc)},
            )
            return self.dead_letter(self.wrapped(record), refusal(exc.http_status, exc.code, str(exc), exc.attribute))
        self.stats.add(in_flight=1)
        try:
            result = self._dispatcher().send(ce)
        finally:
            self.stats.add(in_flight=-1)
        if result.attempts > 1:
            self.stats.add(retried=result.attempts - 1)
        if result.ok:
            self.stats.add(delivered=1)
            return True
        if self.stop.is_set() and result.error == "stopped while retrying":
            return False  # not answered: leave it uncommitted for the next run
        return self.dead_letter(ce, result)

    def dead_letter(self, ce: CloudEvent, result: DispatchResult) -> bool:
        if not self.spec.dead_letter_topic:
            # Knative drops it silently here; we refuse to, and keep it uncommitted.
            log.error(
                "delivery failed and no dead-letter topic is configured; not committing",
                extra={"subscription": self.spec.name, "event_id": ce.get_id()},
            )
            self.stats.add(failed=1)
            return False
        dl = fit_for_broker(
            cloudevent_to_kafka(dead_letter_event(ce, result, self.spec.sink_url)), self.max_record_bytes
        )
        try:
            send_records(self.producer, [(self.spec.dead_letter_topic, dl)])
        except Exception as exc:
            log.error(
                "dead-letter publish failed; record stays uncommitted",
                extra={"subscription": self.spec.name, "reason": str(exc)},
            )
            self.stats.add(failed=1)
            return False
        log.warning(
            "event dead-lettered",
            extra={
                "subscription": self.spec.name,
                "event_id": ce.get_id(),
                "status": result.status,
                "attempts": result.attempts,
            },
        )
        self.stats.add(dead_lettered=1)
        return True

    def _run_partition(self, records: list[Any]) -> int | None:
        """Ordered delivery of one partition's batch; the next offset to commit (or None)."""
        next_offset = None
        for record in records:
            if self.stop.is_set() or not self.deliver_record(record):
                break
            next_offset = record.offset + 1
        return next_offset

    def run(self) -> None:
        """Consume and deliver until ``stop`` is set (call from a thread of its own)."""
        consumer = make_consumer(
            self.bootstrap,
            group_id=self.spec.consumer_group,
            topics=[self.spec.topic],
            profile=self.profile,
            client_id=f"ks-{self.spec.name}",
        )
        pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix=f"ks-{self.spec.name}")
        log.info(
            "kafka source started",
            extra={
                "subscription": self.spec.name,
                "topic": self.spec.topic,
                "group": self.spec.consumer_group,
                "sink": self.spec.sink_url,
            },
        )
        try:
            while not self.stop.is_set():
                batches = consumer.poll(timeout_ms=100)
                self._track_highwater(consumer)
                if not batches:
                    continue
                offsets = self._deliver_batches(pool, batches)
                self._commit(consumer, offsets)
                self._rewind_unfinished(consumer, batches, offsets)
        finally:
            pool.shutdown(wait=True)
            consumer.close(autocommit=False)
            log.info("kafka source stopped", extra={"subscription": self.spec.name})

    def _track_highwater(self, consumer: Any) -> None:
        """Remember each assigned partition's high watermark (from fetch answers) for lag."""
        for tp in consumer.assignment():
            hw = consumer.highwater(tp)
            if hw is None:
                continue
            if not self.stats.knows_committed(tp.topic, tp.partition):
                try:
                    done = consumer.committed(tp)
                except KafkaError:
                    continue  # asked again on the next poll
                self.stats.commit(tp.topic, tp.partition, done or 0)
            self.stats.seen_highwater(tp.topic, tp.partition, hw)

    def _deliver_batches(
        self, pool: ThreadPoolExecutor, batches: dict[TopicPartition, list[Any]]
    ) -> dict[TopicPartition, int]:
        offsets: dict[TopicPartition, int] = {}
        if self.spec.ordering == "ordered":
            futures = {tp: pool.submit(self._run_partition, recs) for tp, recs in batches.items()}
            for tp, fut in futures.items():
                nxt = fut.result()
                if nxt is not None:
                    offsets[tp] = nxt
            return offsets
        for tp, recs in batches.items():
            done = list(pool.map(self.deliver_record, recs))
            # Commit up to the first record that may not be committed (it comes again).
            for rec, ok in zip(recs, done, strict=True):
                if not ok:
                    break
                offsets[tp] = rec.offset + 1
        return offsets

    def _commit(self, consumer: Any, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()})
        except (CommitFailedError, KafkaError) as exc:
            log.warning(
                "offset commit failed (rebalance?); records will be redelivered and deduped",
                extra={"subscription": self.spec.name, "reason": str(exc)},
            )
            return
        for tp, off in offsets.items():
            self.stats.commit(tp.topic, tp.partition, off)

    def _rewind_unfinished(
        self, consumer: Any, batches: dict[TopicPartition, list[Any]], offsets: dict[TopicPartition, int]
    ) -> None:
        """A partition that stopped early comes again from its first unanswered record."""
        rewound = False
        for tp, recs in batches.items():
            target = offsets.get(tp, recs[0].offset)
            if target <= recs[-1].offset:
                consumer.seek(tp, target)
                rewound = True
        if rewound and not self.stop.is_set():
            self.stop.wait(0.5)  # do not spin on a record that cannot be dead-lettered yet
