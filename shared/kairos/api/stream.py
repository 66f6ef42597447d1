"""The live stream: server-sent events with positions, PnL, orders, alerts and prices.

Each connection polls Postgres every ``KAIROS_API_STREAM_INTERVAL_MS`` (250 ms by default)
and sends a section only when it changed since the last one sent, so a fill reaches the
dashboard within the interval plus one read. Polling the database (and not a per-instance
Kafka consumer) keeps every API instance stateless and shows exactly what the REST reads
show. The stream needs a bearer token like every read (the dashboard reads it with fetch).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from kairos.api import reads
from kairos.api.risk_routes import kill_switch_state

if TYPE_CHECKING:
    from kairos.api.app import Api


def snapshot(api: Api) -> dict[str, Any]:
    """Every section the stream carries, read in one connection."""
    with api.pool.connection() as conn:
        marks = reads._rows(conn, "SELECT venue, symbol, price, observed_at FROM mark_prices ORDER BY venue, symbol")
        return {
            "positions": reads.positions(conn, open_only=True, limit=200),
            "pnl": reads.pnl(conn),
            "orders": reads.orders(conn, limit=30, state=None, account=None),
            "fills": reads.fills(conn, limit=30, account=None),
            "alerts": reads.alerts(conn, 20),
            "prices": marks,
            "kill_switch": kill_switch_state(conn),
            "as_of": reads.as_of(conn),
        }


async def events(api: Api, request: Request) -> AsyncIterator[bytes]:
    sent: dict[str, str] = {}
    yield b": connected\n\n"
    while not await request.is_disconnected():
        snap = await run_in_threadpool(snapshot, api)
        as_of = snap.pop("as_of")
        for name, value in snap.items():
            text = json.dumps(value, default=str)
            if sent.get(name) != text:
                sent[name] = text
                payload = json.dumps({"as_of": as_of, "data": value}, default=str)
                yield f"event: {name}\ndata: {payload}\n\n".encode()
        yield f"event: tick\ndata: {json.dumps({'as_of': as_of})}\n\n".encode()
        await asyncio.sleep(api.settings.stream_interval_s)


def router(api: Api) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["stream"])

    @r.get(
        "/stream", dependencies=[Depends(api.role("viewer"))], responses={200: {"content": {"text/event-stream": {}}}}
    )
    async def stream(request: Request) -> StreamingResponse:
        """Server-sent events: positions, pnl, orders, fills, alerts, prices, kill_switch (on change), tick."""
        return StreamingResponse(
            events(api, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return r
