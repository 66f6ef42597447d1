"""The aiohttp application: Binance routes + control API, behind the fault/audit middleware.

One event loop owns the venue; every handler runs on it, so the engine needs no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from kairos.venue_sim.binance_api import API_KEY, BINANCE_CODE, FILL_DELAY_MS, BinanceApi, json_dumps
from kairos.venue_sim.control_api import PREFIX, control_routes
from kairos.venue_sim.faults import FaultState
from kairos.venue_sim.venue import Venue

log = logging.getLogger(__name__)
HandlerT = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AuditLog:
    """Every request with its outcome and injected faults; in memory, optionally JSON lines."""

    def __init__(self, path: Path | None = None, maxlen: int = 200_000) -> None:
        self._records: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._seq = 0
        self._file = path.open("a") if path is not None else None

    def record(self, **fields: Any) -> None:
        self._seq += 1
        entry = {"seq": self._seq, **fields}
        self._records.append(entry)
        if self._file is not None:
            self._file.write(json_dumps(entry) + "\n")
            self._file.flush()

    def records(self) -> list[dict[str, Any]]:
        return list(self._records)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _error(status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps({"code": code, "msg": msg}), content_type="application/json", headers=headers
    )


def fault_middleware(faults: FaultState, audit: AuditLog) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: HandlerT) -> web.StreamResponse:
        started = time.perf_counter()
        if request.path.startswith(PREFIX):
            return await handler(request)
        fired = [] if not faults.rules else faults.decide(request.method, request.path)
        names = [r.kind for r in fired]
        if faults.maintenance:
            names.append("maintenance")
        response: web.StreamResponse | None = None
        lost_ms = 0
        if faults.maintenance:
            response = _error(503, -1001, "System is under maintenance.")
        for rule in fired:
            if rule.kind == "latency":
                await asyncio.sleep(rule.latency_ms / 1000)
            elif response is not None:
                continue
            elif rule.kind == "http_error":
                response = web.Response(status=rule.status, text="<html>Service Unavailable</html>")
            elif rule.kind == "rate_limit":
                response = _error(429, -1003, "Too many requests; current limit is 2400 requests per minute.",
                                  {"Retry-After": str(rule.retry_after_s)})  # fmt: skip
            elif rule.kind == "ban":
                response = _error(418, -1003, "Way too many requests; IP banned until later.",
                                  {"Retry-After": str(rule.retry_after_s)})  # fmt: skip
            elif rule.kind == "delayed_fill":
                request[FILL_DELAY_MS] = rule.delay_ms
            elif rule.kind == "lost_response":
                lost_ms = rule.hold_ms
        if response is None:
            response = await handler(request)
        audit.record(
            time=int(time.time() * 1000), method=request.method, path=request.path,
            api_key=request.get(API_KEY) or request.headers.get("X-MBX-APIKEY"), status=response.status,
            code=request.get(BINANCE_CODE), faults=names, ms=round((time.perf_counter() - started) * 1000, 3),
        )  # fmt: skip
        if lost_ms:
            log.info(
                "venue_sim.fault kind=lost_response method=%s path=%s hold_ms=%s (executed, answer withheld)",
                request.method,
                request.path,
                lost_ms,
                extra={"fault": "lost_response", "method": request.method, "path": request.path},
            )
            await asyncio.sleep(lost_ms / 1000)
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # aiohttp drops the connection without answering
        return response

    return middleware


def build_app(venue: Venue, faults: FaultState, audit: AuditLog) -> web.Application:
    app = web.Application(middlewares=[fault_middleware(faults, audit)])
    app.add_routes(BinanceApi(venue, faults).routes())
    app.add_routes(control_routes(venue, faults, audit))

    async def ticker(app: web.Application) -> Any:
        async def loop() -> None:
            while True:
                venue.sync_wall()
                await asyncio.sleep(0.05)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(ticker)
    return app


class VenueServer:
    """Start/stop the app on ``host:port`` (port 0 picks a free one) inside a running loop."""

    def __init__(self, venue: Venue, faults: FaultState, audit: AuditLog, host: str = "127.0.0.1",
                 port: int = 0) -> None:  # fmt: skip
        self.venue, self.faults, self.audit = venue, faults, audit
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        self._runner = web.AppRunner(build_app(self.venue, self.faults, self.audit), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, shutdown_timeout=0.5)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        log.info(
            "venue_sim.listening url=http://%s:%s seed=%s",
            self.host,
            self.port,
            self.venue.config.seed,
            extra={"host": self.host, "port": self.port},
        )
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self.audit.close()
