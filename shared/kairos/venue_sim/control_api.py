"""The control API under ``/_sim/``: step time, set prices, inject faults, read venue truth.

Outside Binance's paths so no client can hit it by accident; unsigned because it only
listens where the simulator does (localhost in tests and ``make run``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from kairos.venue_sim.binance_api import json_dumps
from kairos.venue_sim.faults import FaultState
from kairos.venue_sim.model import VenueError
from kairos.venue_sim.venue import Venue

PREFIX = "/_sim"


def _ok(data: Any) -> web.Response:
    return web.json_response(data, dumps=json_dumps)


def _bad(msg: str) -> web.Response:
    return web.json_response({"error": msg}, status=400)


def _dec(body: dict[str, Any], name: str) -> Decimal | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"{name}={raw!r} is not a decimal number") from None


def control_routes(venue: Venue, faults: FaultState, audit: Any) -> list[web.RouteDef]:
    eng = venue.engine

    async def body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        data = json.loads(await request.text() or "{}")
        if not isinstance(data, dict):
            raise ValueError("request body must be a JSON object")
        return data

    def guarded(fn: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            try:
                return await fn(request)
            except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
                return _bad(f"{request.method} {request.path}: {exc}")
            except VenueError as exc:
                return _bad(f"{request.method} {request.path}: {exc.code} {exc.msg}")

        return handle

    def state() -> dict[str, Any]:
        return {"now": venue.now_ms, "tick": venue.k, "clock": venue.clock, "speed": venue.speed,
                "last": eng.last, "mark": eng.mark}  # fmt: skip

    async def health(request: web.Request) -> web.Response:
        venue.sync_wall()  # in realtime mode, report the clock as of now
        return _ok({"ok": True, **state()})

    async def step(request: web.Request) -> web.Response:
        b = await body(request)
        if "ticks" in b:
            venue.step(int(b["ticks"]))
        else:
            venue.step_ms(int(Decimal(str(b.get("seconds", 0))) * 1000) + int(b.get("ms", 0)))
        return _ok(state())

    async def price(request: web.Request) -> web.Response:
        b = await body(request)
        value = _dec(b, "price")
        if value is None:
            raise ValueError("'price' is required")
        venue.set_price(str(b["symbol"]), value, _dec(b, "mark"), hold=bool(b.get("hold", True)))
        return _ok(state())

    async def script(request: web.Request) -> web.Response:
        b = await body(request)
        venue.script(str(b["symbol"]), [Decimal(str(p)) for p in b["prices"]])
        return _ok(state())

    async def release(request: web.Request) -> web.Response:
        venue.release(str((await body(request))["symbol"]))
        return _ok(state())

    async def clock(request: web.Request) -> web.Response:
        b = await body(request)
        venue.set_clock(str(b["mode"]), float(b.get("speed", 1.0)))
        return _ok(state())

    async def get_faults(request: web.Request) -> web.Response:
        return _ok(faults.to_dict())

    async def set_faults(request: web.Request) -> web.Response:
        faults.configure(await body(request), replace=request.method == "PUT")
        return _ok(faults.to_dict())

    async def clear_faults(request: web.Request) -> web.Response:
        faults.clear()
        return _ok(faults.to_dict())

    async def add_account(request: web.Request) -> web.Response:
        b = await body(request)
        eng.add_account(str(b["api_key"]), str(b["secret"]), _dec(b, "balance") or Decimal("100000"))
        return _ok({"api_key": b["api_key"]})

    def account_filter(request: web.Request) -> str | None:
        return request.query.get("account") or None

    async def orders(request: web.Request) -> web.Response:
        acct = account_filter(request)
        return _ok({
            "orders": [asdict(o) for o in eng.orders.values() if acct is None or o.account == acct],
            "algo_orders": [asdict(a) for a in eng.algos.values() if acct is None or a.account == acct],
        })  # fmt: skip

    async def fills(request: web.Request) -> web.Response:
        acct = account_filter(request)
        return _ok([asdict(f) for f in eng.fills if acct is None or f.account == acct])

    async def positions(request: web.Request) -> web.Response:
        acct = account_filter(request)
        out = []
        for key, a in eng.accounts.items():
            if acct is not None and key != acct:
                continue
            out.append({"account": key, "wallet": a.wallet, "initial_wallet": a.initial_wallet,
                        "positions": [asdict(p) for p in a.positions.values()]})  # fmt: skip
        return _ok(out)

    async def events(request: web.Request) -> web.Response:
        kind, since = request.query.get("kind"), int(request.query.get("since", "0"))
        return _ok([e for e in eng.events if e["seq"] > since and (kind is None or e["kind"] == kind)])

    async def fix_kline(request: web.Request) -> web.Response:
        b = await body(request)
        values = tuple(_dec(b, f) for f in ("open", "high", "low", "close", "volume"))
        if any(v is None for v in values):
            raise ValueError("open, high, low, close and volume are required")
        venue.fix_kline(str(b["symbol"]), str(b.get("interval", "1m")), int(b["open_time"]), values)  # type: ignore[arg-type]
        return _ok({"fixed": True})

    async def kline_hole(request: web.Request) -> web.Response:
        b = await body(request)
        venue.add_kline_hole(str(b["symbol"]), int(b["start"]), int(b["end"]))
        return _ok({"holes": venue.kline_holes})

    async def audit_log(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return _ok([r for r in audit.records() if r["seq"] > since])

    table = [
        ("GET", "/health", health), ("POST", "/step", step), ("POST", "/price", price),
        ("POST", "/script", script), ("POST", "/release", release), ("POST", "/clock", clock),
        ("GET", "/faults", get_faults), ("PUT", "/faults", set_faults), ("POST", "/faults", set_faults),
        ("DELETE", "/faults", clear_faults), ("POST", "/accounts", add_account), ("GET", "/orders", orders),
        ("GET", "/fills", fills), ("GET", "/positions", positions), ("GET", "/events", events),
        ("GET", "/audit", audit_log), ("POST", "/klines/fix", fix_kline), ("POST", "/klines/hole", kline_hole),
    ]  # fmt: skip
    return [web.route(m, PREFIX + path, guarded(fn)) for m, path, fn in table]
