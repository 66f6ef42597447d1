"""The HTTP edge of a function: raw requests are checked here, before func-python sees them.

Why a middleware around func-python's ASGI application and not code in
``KairosFunction.handle``: func-python decodes the request into a CloudEvent *before* it
calls ``handle``, and that decoding (the CloudEvents SDK) fills a missing ``id`` with a
random UUID and a missing ``time`` with "now", answers a bad specversion or malformed JSON
with a text/plain 400 without a reason, and answers batch mode, a JSON string body or a
non-UTF-8 header with 500 (a sender retries a 5xx). By the time ``handle`` runs, the
evidence is gone. The function image's command is ``kairos serve`` (the generated Knative
Service runs it too), and ``serve`` wraps func-python's application in this gate, so the
check runs first in the cluster exactly as it does locally.

What the gate does, per request:
- ``/health/readiness``: answers itself, 200 when ready and 503 when not (func-python
  answers 500), with a JSON body naming the function, so a caller (``kairos dev``) can
  prove it reached the function it started;
- any other path but the health ones: reads the body (413 above
  ``kairos.contracts.limits.MAX_REQUEST_BYTES``), decodes it with the codec's strict
  decoder (required attributes checked on the raw headers/body), and refuses anything that
  is not exactly one CloudEvent with ``{"error": {"code", "reason", "attribute"}}``. A
  request that passes is replayed, byte for byte, to func-python.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kairos.contracts.codec import http_headers_from_raw, http_to_cloudevent
from kairos.contracts.limits import MAX_REQUEST_BYTES
from kairos.errors import EventTooLarge, InvalidEvent

log = logging.getLogger(__name__)

READINESS_PATH = "/health/readiness"
LIVENESS_PATH = "/health/liveness"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def refusal_body(code: str, reason: str, attribute: str | None = None) -> bytes:
    """The JSON every refusal carries; ``attribute`` names the CloudEvent attribute at fault."""
    error: dict[str, str] = {"code": code, "reason": reason}
    if attribute:
        error["attribute"] = attribute
    return json.dumps({"error": error}).encode()


async def send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class CloudEventGate:
    """ASGI middleware: strict CloudEvent check and readiness in front of func-python."""

    def __init__(self, app: Any, function: Any, name: str, *, max_body_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.function = function
        self.name = name
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("path") == LIVENESS_PATH:
            await self.app(scope, receive, send)
            return
        if scope.get("path") == READINESS_PATH:
            await self.readiness(send)
            return
        body = await read_body(receive, self.max_body_bytes)
        if body is None:
            big = EventTooLarge(
                f"request body is over {self.max_body_bytes} bytes: the event's data is above this "
                "function's limit (KAIROS_MAX_EVENT_BYTES) plus room for its attributes"
            )
            await self.refuse(send, big.http_status, big.code, str(big), None)
            return
        try:
            http_to_cloudevent(http_headers_from_raw(scope.get("headers", [])), body)
        except InvalidEvent as err:
            await self.refuse(send, err.http_status, err.code, str(err), err.attribute)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: only a disconnect can come
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def refuse(self, send: Send, status: int, code: str, reason: str, attribute: str | None) -> None:
        log.warning(
            "request refused before decoding",
            extra={"function": self.name, "status": status, "code": code, "reason": reason, "attribute": attribute},
        )
        await send_json(send, status, refusal_body(code, reason, attribute))

    async def readiness(self, send: Send) -> None:
        """200 or 503, and a body that names this function and says why."""
        try:
            result = self.function.ready() if hasattr(self.function, "ready") else True
        except Exception as exc:  # a readiness check that fails is "not ready", with the reason
            result = (False, f"readiness check failed: {type(exc).__name__}: {exc}")
        ready, reason = result if isinstance(result, tuple) else (bool(result), "ready" if result else "not ready")
        body = json.dumps({"function": self.name, "ready": bool(ready), "reason": str(reason)}).encode()
        await send_json(send, 200 if ready else 503, body)


class HttpGate(CloudEventGate):
    """The edge of an HTTP (ASGI) function, the ``kind: http`` entries of the catalog.

    Readiness is answered as for every function (JSON naming it, 200/503); liveness is 200;
    every other request goes to the function's own ASGI application (``function.handle``),
    which validates its input itself: there is no CloudEvent to check.
    """

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if hasattr(self.function, "stop"):
                        self.function.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind == "http" and scope.get("path") == READINESS_PATH:
            await self.readiness(send)
            return
        if kind == "http" and scope.get("path") == LIVENESS_PATH:
            await send_json(send, 200, json.dumps({"function": self.name, "alive": True}).encode())
            return
        await self.function.handle(scope, receive, send)
