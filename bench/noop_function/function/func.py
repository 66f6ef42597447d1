"""No-op CloudEvents function: answers 204 to every event (benchmark baseline)."""

from __future__ import annotations

from typing import Any


class Noop:
    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send.http({"type": "http.response.start", "status": 204, "headers": []})
        await send.http({"type": "http.response.body", "body": b""})


def new() -> Noop:
    return Noop()
