"""The Binance USD-M REST surface: request parsing, signing, dispatch, public market data.

Thin on purpose: parse strings into typed values, call the venue, shape the answer with
``binance_format``. Private (signed) routes live in ``binance_trade``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from kairos.marketdata.timeframes import TIMEFRAME_MS
from kairos.venue_sim import auth
from kairos.venue_sim import binance_format as fmt
from kairos.venue_sim.faults import FaultState
from kairos.venue_sim.model import VenueError
from kairos.venue_sim.venue import Venue

log = logging.getLogger(__name__)

# Per-request values the HTTP layers hand each other (fault middleware <-> Binance handlers).
API_KEY = web.RequestKey("api_key", str)
BINANCE_CODE = web.RequestKey("binance_code", int)
FILL_DELAY_MS = web.RequestKey("fill_delay_ms", int)

Params = dict[str, str]
Handler = Callable[[Params, str | None, web.Request], Any]


def json_dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str)


def p_str(params: Params, name: str, required: bool = False) -> str | None:
    value = params.get(name)
    if required and not value:
        raise VenueError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value or None


def p_dec(params: Params, *names: str) -> Decimal | None:
    for name in names:
        raw = params.get(name)
        if raw:
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise VenueError(
                    -1100,
                    f"Illegal characters found in parameter '{name}'; legal range is a decimal number.",
                ) from None
            if not value.is_finite():
                raise VenueError(-1100, f"Illegal characters found in parameter '{name}'.")
            return value
    return None


def p_int(params: Params, name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise VenueError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]+$'.") from None


def p_bool(params: Params, name: str) -> bool:
    return (params.get(name) or "false").lower() == "true"


class BinanceApi:
    """Routes for ``/fapi`` (and the one ``/sapi`` call ccxt may make while loading markets)."""

    def __init__(self, venue: Venue, faults: FaultState) -> None:
        self.venue = venue
        self.engine = venue.engine
        self.faults = faults
        self._update_id = 0

    def server_ms(self) -> int:
        return int(time.time() * 1000) + self.faults.clock_offset_ms

    def handler(self, fn: Handler, *, signed: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            raw_query = request.raw_path.partition("?")[2]
            raw_body = await request.text() if request.can_read_body else ""
            params: Params = dict(parse_qsl(raw_query, keep_blank_values=True))
            params.update(parse_qsl(raw_body, keep_blank_values=True))
            try:
                self.venue.sync_wall()
                api_key = None
                if signed:
                    secrets = {k: a.secret for k, a in self.engine.accounts.items()}
                    api_key = auth.verify(
                        api_key=request.headers.get("X-MBX-APIKEY"),
                        raw_query=raw_query,
                        raw_body=raw_body,
                        params=params,
                        secrets=secrets,
                        server_ms=self.server_ms(),
                    )
                    request[API_KEY] = api_key
                result = fn(params, api_key, request)
            except VenueError as exc:
                request[BINANCE_CODE] = exc.code
                log.info(
                    "venue_sim.rejected method=%s path=%s code=%s msg=%r",
                    request.method,
                    request.path,
                    exc.code,
                    exc.msg,
                    extra={"method": request.method, "path": request.path, "binance_code": exc.code},
                )
                return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.http_status)
            return web.json_response(result, dumps=json_dumps)

        return handle

    def routes(self) -> list[web.RouteDef]:
        from kairos.venue_sim.binance_trade import private_routes

        public: list[tuple[str, str, Handler]] = [
            ("GET", "/fapi/v1/ping", lambda p, k, r: {}),
            ("GET", "/fapi/v1/time", lambda p, k, r: {"serverTime": self.server_ms()}),
            ("GET", "/fapi/v1/exchangeInfo", self.exchange_info),
            ("GET", "/fapi/v1/depth", self.depth),
            ("GET", "/fapi/v1/trades", self.trades),
            ("GET", "/fapi/v1/historicalTrades", self.trades),
            ("GET", "/fapi/v1/aggTrades", self.agg_trades),
            ("GET", "/fapi/v1/ticker/24hr", self.ticker_24h),
            ("GET", "/fapi/v1/ticker/price", self.ticker_price),
            ("GET", "/fapi/v2/ticker/price", self.ticker_price),
            ("GET", "/fapi/v1/ticker/bookTicker", self.book_ticker),
            ("GET", "/fapi/v1/premiumIndex", self.premium_index),
            ("GET", "/fapi/v1/fundingRate", self.funding_rate),
        ]
        for path in ("klines", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines", "continuousKlines"):
            public.append(("GET", f"/fapi/v1/{path}", self.klines))
        table = [web.route(m, path, self.handler(fn, signed=False)) for m, path, fn in public]
        table += [web.route(m, path, self.handler(fn, signed=True)) for m, path, fn in private_routes(self)]
        return table

    # --------------------------------------------------------------- public
    def _symbols(self, params: Params) -> list[str]:
        if params.get("symbol"):
            self.engine.spec(params["symbol"])
            return [params["symbol"]]
        if params.get("symbols"):
            try:
                wanted = json.loads(params["symbols"])
            except json.JSONDecodeError:
                raise VenueError(-1100, "Illegal characters found in parameter 'symbols'.") from None
            for s in wanted:
                self.engine.spec(s)
            return list(wanted)
        return list(self.engine.specs)

    def _one_or_all(self, params: Params, row: Callable[[str], dict[str, Any]]) -> Any:
        rows = [row(s) for s in self._symbols(params)]
        return rows[0] if params.get("symbol") else rows

    def exchange_info(self, params: Params, key: str | None, req: web.Request) -> Any:
        return {
            "timezone": "UTC",
            "serverTime": self.server_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [fmt.symbol_json(s, self.venue.t0) for s in self.engine.specs.values()],
        }

    def depth(self, params: Params, key: str | None, req: web.Request) -> Any:
        symbol = p_str(params, "symbol", True) or ""
        spec = self.engine.spec(symbol)
        self._update_id += 1
        limit = p_int(params, "limit", 500) or 500
        return fmt.depth_json(spec, self.engine.last[symbol], limit, self.venue.now_ms, self._update_id)

    def _recent(self, params: Params) -> tuple[str, list[tuple[int, int, Decimal]]]:
        symbol = p_str(params, "symbol", True) or ""
        self.engine.spec(symbol)
        limit = min(p_int(params, "limit", 500) or 500, 1000)
        return symbol, self.venue.recent(symbol, limit)

    def trades(self, params: Params, key: str | None, req: web.Request) -> Any:
        symbol, rows = self._recent(params)
        spec = self.engine.specs[symbol]
        return [
            {"id": i, "price": spec.fmt_price(p), "qty": spec.fmt_qty(spec.min_qty * (1 + i % 5)),
             "quoteQty": fmt.dec(p * spec.min_qty * (1 + i % 5)), "time": t, "isBuyerMaker": i % 2 == 0}
            for i, t, p in rows
        ]  # fmt: skip

    def agg_trades(self, params: Params, key: str | None, req: web.Request) -> Any:
        symbol, rows = self._recent(params)
        spec = self.engine.specs[symbol]
        start, end = p_int(params, "startTime"), p_int(params, "endTime")
        return [
            {"a": i, "p": spec.fmt_price(p), "q": spec.fmt_qty(spec.min_qty * (1 + i % 5)), "f": i, "l": i,
             "T": t, "m": i % 2 == 0}
            for i, t, p in rows
            if (start is None or t >= start) and (end is None or t <= end)
        ]  # fmt: skip

    def klines(self, params: Params, key: str | None, req: web.Request) -> Any:
        symbol = p_str(params, "symbol") or p_str(params, "pair", True) or ""
        spec = self.engine.spec(symbol)
        interval = params.get("interval", "")
        if interval not in TIMEFRAME_MS:
            raise VenueError(-1120, "Invalid interval.")
        limit = min(p_int(params, "limit", 500) or 500, 1500)
        rows = self.venue.klines(symbol, interval, p_int(params, "startTime"), p_int(params, "endTime"), limit)
        return [
            [t, spec.fmt_price(o), spec.fmt_price(h), spec.fmt_price(lo), spec.fmt_price(c), spec.fmt_qty(v),
             close_ms, fmt.dec(v * c), 1, "0", "0", "0"]
            for t, close_ms, o, h, lo, c, v in rows
        ]  # fmt: skip

    def ticker_24h(self, params: Params, key: str | None, req: web.Request) -> Any:
        now = self.venue.now_ms

        def row(symbol: str) -> dict[str, Any]:
            spec = self.engine.specs[symbol]
            pts = self.venue.window(symbol, now - 86_400_000, now + 1) or [(now, self.engine.last[symbol])]
            prices = [p for _, p in pts]
            first, last = prices[0], prices[-1]
            vol = (spec.level_qty * len(prices) / 10).quantize(spec.step_size)
            return {
                "symbol": symbol, "priceChange": spec.fmt_price(last - first),
                "priceChangePercent": fmt.dec((last - first) / first * 100, 3),
                "weightedAvgPrice": spec.fmt_price(last),
                "lastPrice": spec.fmt_price(last), "lastQty": spec.fmt_qty(spec.min_qty),
                "openPrice": spec.fmt_price(first), "highPrice": spec.fmt_price(max(prices)),
                "lowPrice": spec.fmt_price(min(prices)), "volume": spec.fmt_qty(vol),
                "quoteVolume": fmt.dec(vol * last), "openTime": pts[0][0], "closeTime": now,
                "firstId": 0, "lastId": len(prices) - 1, "count": len(prices),
            }  # fmt: skip

        return self._one_or_all(params, row)

    def ticker_price(self, params: Params, key: str | None, req: web.Request) -> Any:
        return self._one_or_all(
            params,
            lambda s: {"symbol": s, "price": self.engine.specs[s].fmt_price(self.engine.last[s]),
                       "time": self.venue.now_ms},
        )  # fmt: skip

    def book_ticker(self, params: Params, key: str | None, req: web.Request) -> Any:
        from kairos.venues import book

        def row(s: str) -> dict[str, Any]:
            spec = self.engine.specs[s]
            bid, ask = book.best_bid_ask(spec, self.engine.last[s])
            return {"symbol": s, "bidPrice": spec.fmt_price(bid), "bidQty": spec.fmt_qty(spec.level_qty),
                    "askPrice": spec.fmt_price(ask), "askQty": spec.fmt_qty(spec.level_qty),
                    "time": self.venue.now_ms, "lastUpdateId": self.venue.k}  # fmt: skip

        return self._one_or_all(params, row)

    def premium_index(self, params: Params, key: str | None, req: web.Request) -> Any:
        now = self.venue.now_ms
        interval = self.venue.config.funding_interval_ms
        next_funding = (now // interval + 1) * interval
        rate = self.venue.config.funding_rate or Decimal(0)

        def row(s: str) -> dict[str, Any]:
            spec = self.engine.specs[s]
            mark = spec.fmt_price(self.engine.mark[s])
            return {"symbol": s, "markPrice": mark, "indexPrice": mark, "estimatedSettlePrice": mark,
                    "lastFundingRate": fmt.dec(rate), "interestRate": "0.00010000",
                    "nextFundingTime": next_funding, "time": now}  # fmt: skip

        return self._one_or_all(params, row)

    def funding_rate(self, params: Params, key: str | None, req: web.Request) -> Any:
        """Settlement history: one row per funding time at which any position paid or received."""
        symbol = p_str(params, "symbol")
        seen: dict[tuple[str, int], Any] = {}
        for f in self.engine.funding:
            if symbol is None or f.symbol == symbol:
                seen[(f.symbol, f.time)] = {"symbol": f.symbol, "fundingRate": fmt.dec(f.rate),
                                            "fundingTime": f.time, "markPrice": fmt.dec(f.mark)}  # fmt: skip
        limit = min(p_int(params, "limit", 100) or 100, 1000)
        return list(seen.values())[-limit:]
