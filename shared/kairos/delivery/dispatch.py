"""POST one CloudEvent to a sink with Knative's retry rules.

Retried: connection errors, timeouts, 5xx, 404, 408, 409 and 429 (Knative's list), with
the subscription's backoff. Any other 4xx is final at once. A 2xx is success.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import httpx
from cloudevents.core.v1.event import CloudEvent

from kairos.catalog.model import DeliveryPolicy
from kairos.contracts.codec import cloudevent_to_http_binary

log = logging.getLogger(__name__)

RETRYABLE_4XX = frozenset({404, 408, 409, 429})


def is_retryable(status: int | None) -> bool:
    """True for a failed attempt Knative would retry (None = no HTTP answer at all)."""
    return status is None or status >= 500 or status in RETRYABLE_4XX


@dataclass(frozen=True)
class DispatchResult:
    ok: bool
    status: int | None
    body: bytes
    attempts: int
    error: str = ""


class Dispatcher:
    """Sends events to one sink URL; one instance per delivery thread (httpx pools)."""

    def __init__(self, sink_url: str, policy: DeliveryPolicy, stop: threading.Event | None = None) -> None:
        self.sink_url = sink_url
        self.policy = policy
        self.stop = stop or threading.Event()
        self.client = httpx.Client(timeout=policy.timeout_seconds)

    def close(self) -> None:
        self.client.close()

    def send_once(self, ce: CloudEvent) -> DispatchResult:
        headers, body = cloudevent_to_http_binary(ce)
        try:
            resp = self.client.post(self.sink_url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            return DispatchResult(False, None, b"", 1, f"{type(exc).__name__}: {exc}")
        return DispatchResult(resp.status_code < 300, resp.status_code, resp.content, 1)

    def send(self, ce: CloudEvent) -> DispatchResult:
        """Deliver with retries; the result of the last attempt (or of the first success)."""
        attempt = 0
        while True:
            result = self.send_once(ce)
            attempt += 1
            if result.ok or not is_retryable(result.status) or attempt > self.policy.retry or self.stop.is_set():
                return DispatchResult(result.ok, result.status, result.body, attempt, result.error)
            delay = self.policy.backoff_seconds(attempt)
            log.info(
                "delivery failed, retrying",
                extra={
                    "sink": self.sink_url,
                    "status": result.status,
                    "error": result.error,
                    "attempt": attempt,
                    "in_s": delay,
                    "event_id": ce.get_id(),
                },
            )
            if self.stop.wait(delay):
                return DispatchResult(False, result.status, result.body, attempt, "stopped while retrying")
            time.sleep(0)
