"""The ``api`` function object that ``kairos serve`` (func-python's ASGI invocation) serves.

Catalog kind ``http``: no subscriptions, no inbox. ``start`` reads the settings (fails fast
on a missing secret), opens the pool and applies migrations; ``handle`` is the FastAPI
application behind a body-size guard (413 before the body is read past the limit).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from psycopg_pool import ConnectionPool

from kairos.api.app import Api
from kairos.api.settings import ApiSettings
from kairos.runtime.db import migrate, open_pool, ping

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: a request body above ``limit`` bytes gets 413 with a JSON reason."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send)
            return
        seen = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {"error": {"code": "body_too_large", "reason": f"request body is over {self.limit} bytes"}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class ApiFunction:
    """What func-python needs: start, handle (ASGI), ready, stop."""

    kind = "http"

    def __init__(self, name: str = "api") -> None:
        self.name = name
        self.pool: ConnectionPool | None = None
        self.api: Api | None = None
        self.app: Any = None

    def start(self, env: Mapping[str, str]) -> None:
        settings = ApiSettings.from_env(env)
        migrate(settings.database_url)
        self.pool = open_pool(settings.database_url, min_size=2, max_size=16, name=self.name)
        self.api = Api(settings, self.pool)
        self.app = BodyLimit(self.api.app, settings.max_body_bytes)
        log.info("operator API started", extra={"function": self.name})

    async def handle(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def ready(self) -> tuple[bool, str]:
        if self.pool is None:
            return False, "not started"
        unreachable = ping(self.pool)
        return (False, unreachable) if unreachable else (True, "ready")

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.close()


__all__ = ["ApiFunction", "BodyLimit"]
