"""Where a long-running source (the NEAR Intents ingest, the ticker source) sends its raw events.

A source is not a function: it has no outbox, it publishes as it reads. Locally (``kairos
dev``, the tests) it writes to Kafka directly; under Knative a SinkBinding hands it ``K_SINK``,
the URL of a KafkaSink, and it POSTs binary-mode CloudEvents there. Both kinds sit behind one
small interface so a source does not care which it has.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from kairos.contracts.envelope import Envelope
from kairos.errors import ConfigError

log = logging.getLogger(__name__)

HTTP_ATTEMPTS = 5


class Sink(Protocol):
    def publish(self, env: Envelope[Any]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class KafkaSink:
    """Publishes to one topic with the shared producer settings (acks=all); counts refusals."""

    def __init__(self, bootstrap: str, topic: str, client_id: str) -> None:
        from kairos.bus.kafka import make_producer

        self.topic = topic
        self.producer = make_producer(bootstrap, client_id=client_id)
        self.failed = 0

    def publish(self, env: Envelope[Any]) -> None:
        from kairos.contracts.codec import to_kafka

        rec = to_kafka(env)
        fut = self.producer.send(self.topic, key=rec.key, value=rec.value, headers=list(rec.headers))
        fut.add_errback(self._failed, env.meta.id)

    def _failed(self, exc: Exception, event_id: str) -> None:
        self.failed += 1
        log.error("broker refused a raw event", extra={"topic": self.topic, "event_id": event_id, "reason": str(exc)})

    def flush(self) -> None:
        self.producer.flush(timeout=10)

    def close(self) -> None:
        self.producer.close(timeout=10)


class HttpSink:
    """POSTs binary-mode CloudEvents to ``K_SINK`` (a Knative KafkaSink), a few attempts each."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url
        self.client = httpx.Client(timeout=10)

    def publish(self, env: Envelope[Any]) -> None:
        from kairos.contracts.codec import to_http_binary

        headers, body = to_http_binary(env)
        for attempt in range(HTTP_ATTEMPTS):
            resp = self.client.post(self.url, headers=headers, content=body)
            if resp.status_code < 300:
                return
            log.warning("sink refused a raw event", extra={"status": resp.status_code, "attempt": attempt,
                                                            "event_id": env.meta.id})  # fmt: skip
        raise RuntimeError(f"sink {self.url} refused event {env.meta.id} {HTTP_ATTEMPTS} times")

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.client.close()


def sink_from_env(environ: Mapping[str, str], topic: str, client_id: str) -> Sink:
    """``K_SINK`` when a SinkBinding gave one, else Kafka at ``KAFKA_BOOTSTRAP_SERVERS``."""
    if environ.get("K_SINK"):
        return HttpSink(environ["K_SINK"])
    bootstrap = environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if not bootstrap:
        raise ConfigError("environment variable KAFKA_BOOTSTRAP_SERVERS is not set: broker address, or set K_SINK")
    return KafkaSink(bootstrap, topic, client_id)
