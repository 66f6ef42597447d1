"""LIVE adapter: a Binance USD-M account through ccxt's async client.

The adapter's coroutines run on the process's one venue loop (``ccxt_runtime.LoopThread``)
and the calling thread blocks on the result. ccxt's exceptions are translated at this
boundary (``errors.translate``) into the venue port's classes: the rest of the code never
imports ccxt. Binance specifics live here: conditional orders are algo orders with their
own client id (``clientAlgoId``) whose fills are those of the child order they trigger;
positions are read one-way (``positionSide`` BOTH).

Writes (create, cancel) that fail with a network error, a timeout or a 5xx raise
``OutcomeUnknown``: the request may have been executed. Reads that fail raise
``VenueUnavailable``: a failed query is not an answer. 429/418 back off for the venue's
``Retry-After`` inside the adapter, up to ``max_backoff_s``, then raise ``RateLimited``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from ccxt.base import errors as cx

from kairos.venues.binance_usdm import errors
from kairos.venues.binance_usdm.client import make_client
from kairos.venues.ccxt_runtime import LoopThread, shared_ssl_context
from kairos.venues.ccxt_runtime import dec as _dec
from kairos.venues.port import (
    Credentials,
    OrderRequest,
    RateLimited,
    VenueFunding,
    VenueOrder,
    VenuePosition,
    VenueStatus,
    VenueTrade,
    VenueUnavailable,
)

log = logging.getLogger(__name__)
R = TypeVar("R")

# ccxt logs every request at DEBUG, headers included: the X-MBX-APIKEY header would put an
# API key into our logs whenever LOG_LEVEL=DEBUG. Its logger never goes below INFO here.
logging.getLogger("ccxt").setLevel(logging.INFO)

_TYPES = {
    "market": "market",
    "limit": "limit",
    "stop_market": "STOP_MARKET",
    "take_profit_market": "TAKE_PROFIT_MARKET",
    "trailing_stop_market": "TRAILING_STOP_MARKET",
}


class LiveAdapter:
    """LIVE: orders really go to the venue (here: the simulator, or Binance itself)."""

    mode = "live"

    def __init__(
        self,
        base_url: str | None,
        creds: Credentials,
        *,
        timeout_ms: int = 3000,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._loop = LoopThread.get()
        self._timeout_s = timeout_ms / 1000
        self._max_backoff_s = max_backoff_s
        self._markets_loaded = False

        async def build() -> Any:  # ccxt's async client binds to the loop it is created on
            return make_client(
                base_url,
                creds.api_key,
                creds.secret,
                async_=True,
                config={"timeout": timeout_ms, "ssl_context": shared_ssl_context()},
            )

        self._ex = self._loop.run(build(), 10)

    # --- plumbing --------------------------------------------------------------------

    def _call(self, make: Callable[[], Awaitable[R]], *, write: bool, what: str) -> R:
        """Run one ccxt call, backing off on rate limits; translate every ccxt exception."""
        waited, resynced = 0.0, False
        while True:
            try:
                return self._loop.run(self._with_markets(make), self._timeout_s * 2 + 5)
            except errors.RATE_LIMITED as exc:
                retry_after = self._retry_after()
                if waited + retry_after > self._max_backoff_s:
                    raise RateLimited(
                        f"{what}: venue rate limit, retry after {retry_after:.1f}s", retry_after
                    ) from None
                log.warning(
                    "venue rate limit, backing off",
                    extra={"what": what, "retry_after_s": retry_after, "reason": type(exc).__name__},
                )
                time.sleep(retry_after)
                waited += retry_after
            except errors.CLOCK_REFUSED as exc:
                # our clock and the venue's disagree: sign with the venue's time from now on
                # (the clock guard decides separately whether entries may still be placed)
                if resynced:
                    raise VenueUnavailable(f"{what}: venue refuses our timestamp even after resync: {exc}") from None
                self._loop.run(self._resync_clock(), self._timeout_s * 2 + 5)
                resynced = True
            except (cx.BaseError, TimeoutError) as exc:
                translated = errors.translate(exc, write=write, what=what)
                if translated is None:
                    raise
                raise translated from None

    async def _with_markets(self, make: Callable[[], Awaitable[R]]) -> R:
        if not self._markets_loaded:
            await self._ex.load_markets()
            self._markets_loaded = True
        return await make()

    async def _resync_clock(self) -> None:
        self._ex.options["adjustForTimeDifference"] = True
        await self._ex.load_time_difference()
        log.warning(
            "venue clock differs from ours; signing with the venue's time",
            extra={"time_difference_ms": self._ex.options.get("timeDifference")},
        )

    def _retry_after(self) -> float:
        headers = getattr(self._ex, "last_response_headers", None) or {}
        raw = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return max(0.05, min(float(raw), 60.0)) if raw else 1.0
        except ValueError:
            return 1.0

    # --- the port ----------------------------------------------------------------------

    def submit(self, req: OrderRequest) -> VenueOrder:
        params: dict[str, Any] = {}
        if req.reduce_only:
            params["reduceOnly"] = True
        if req.time_in_force and req.order_type == "limit":
            params["timeInForce"] = req.time_in_force
        if req.conditional:
            params["clientAlgoId"] = req.client_order_id
            if req.stop_price is not None:
                params["stopPrice"] = str(req.stop_price)
            if req.activation_price is not None:
                params["activationPrice"] = str(req.activation_price)
            if req.callback_rate is not None:
                params["callbackRate"] = str(req.callback_rate)
        else:
            params["newClientOrderId"] = req.client_order_id
        price = str(req.limit_price) if req.order_type == "limit" else None
        raw = self._call(
            lambda: self._ex.create_order(
                req.symbol, _TYPES[req.order_type], req.side, str(req.quantity), price, params
            ),
            write=True,
            what=f"create {req.client_order_id}",
        )
        info = raw["info"]
        if req.conditional:
            return self._from_algo(req.symbol, info, with_trades=False)
        order = self._from_plain(info)
        if order.filled_quantity > 0:
            return self._with_trades(req.symbol, order)
        return order

    def fetch(self, symbol: str, client_order_id: str, *, conditional: bool) -> VenueOrder:
        what = f"fetch {client_order_id}"
        if conditional:
            raw = self._call(
                lambda: self._ex.fetch_order(None, symbol, {"trigger": True, "clientAlgoId": client_order_id}),
                write=False,
                what=what,
            )
            return self._from_algo(symbol, raw["info"], with_trades=True)
        raw = self._call(
            lambda: self._ex.fetch_order(None, symbol, {"origClientOrderId": client_order_id}), write=False, what=what
        )
        return self._with_trades(symbol, self._from_plain(raw["info"]))

    def cancel(self, symbol: str, client_order_id: str, *, conditional: bool) -> VenueOrder:
        what = f"cancel {client_order_id}"
        if conditional:
            self._call(
                lambda: self._ex.cancel_order(None, symbol, {"trigger": True, "clientAlgoId": client_order_id}),
                write=True,
                what=what,
            )
        else:
            self._call(
                lambda: self._ex.cancel_order(None, symbol, {"origClientOrderId": client_order_id}),
                write=True,
                what=what,
            )
        return self.fetch(symbol, client_order_id, conditional=conditional)

    def _open_raw(self, symbol: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """ccxt's open plain orders and open conditional (algo) orders on ``symbol``."""
        plain = self._call(lambda: self._ex.fetch_open_orders(symbol), write=False, what=f"open orders {symbol}")
        algos = self._call(
            lambda: self._ex.fetch_open_orders(symbol, None, None, {"trigger": True}),
            write=False,
            what=f"open algo orders {symbol}",
        )
        return plain, algos

    def open_client_ids(self, symbol: str) -> set[str]:
        plain, algos = self._open_raw(symbol)
        ids = {str(o["info"].get("clientOrderId") or "") for o in plain}
        ids |= {str(o["info"].get("clientAlgoId") or "") for o in algos}
        return {i for i in ids if i}

    def open_orders(self, symbol: str) -> list[VenueOrder]:
        plain, algos = self._open_raw(symbol)
        out = [self._from_plain(o["info"]) for o in plain]
        return out + [self._from_algo(symbol, o["info"], with_trades=False) for o in algos]

    def positions(self) -> list[VenuePosition]:
        raw = self._call(lambda: self._ex.fetch_positions(), write=False, what="positions")
        out = []
        for p in raw:
            info = p.get("info") or {}
            amount = _dec(info.get("positionAmt"))
            if str(info.get("positionSide") or "BOTH") != "BOTH":
                if amount != 0:
                    log.warning("hedge-mode position not adopted", extra={"symbol": p.get("symbol")})
                continue
            # zero amounts are kept: "flat" is an answer the reconciler closes positions on
            out.append(VenuePosition(str(p["symbol"]), amount, _dec(info.get("entryPrice"))))
        return out

    def close_reason(self, symbol: str, since: datetime) -> str:
        """Binance closes a position itself with a market order whose client id starts
        ``autoclose-`` (liquidation) or ``adl_autoclose`` (auto-deleverage); anything else
        that flattened it was a trade Kairos did not send."""
        since_ms = int(since.timestamp() * 1000)
        raw = self._call(lambda: self._ex.fetch_closed_orders(symbol, since_ms), write=False, what="closed orders")
        ids = [str((o.get("info") or {}).get("clientOrderId") or "") for o in raw]
        if any(i.startswith("adl_autoclose") for i in ids):
            return "auto_deleverage"
        if any(i.startswith("autoclose-") for i in ids):
            return "liquidation"
        return "external_close"

    def balances(self) -> dict[str, Decimal]:
        raw = self._call(lambda: self._ex.fetch_balance(), write=False, what="balances")
        assets = (raw.get("info") or {}).get("assets") or []
        return {str(a["asset"]): _dec(a.get("walletBalance")) for a in assets if a.get("asset")}

    def funding(self, since: datetime, limit: int = 1000) -> list[VenueFunding]:
        """``GET /fapi/v1/income`` with ``incomeType=FUNDING_FEE``, ``startTime`` and ``limit``
        (at most 1000; ccxt's funding history): the amounts from the raw ``income`` strings,
        the id from ``tranId``."""
        since_ms = int(since.timestamp() * 1000)
        size = min(limit, 1000)
        raw = self._call(lambda: self._ex.fetch_funding_history(None, since_ms, size), write=False, what="funding")
        out = []
        for p in raw:
            info = p.get("info") or {}
            out.append(VenueFunding(
                funding_id=str(info["tranId"]), symbol=str(p["symbol"]), asset=str(info.get("asset") or p["code"]),
                amount=_dec(info.get("income")), at=datetime.fromtimestamp(int(info["time"]) / 1000, UTC),
            ))  # fmt: skip
        return sorted(out, key=lambda f: f.at)

    def marks(self, symbols: Sequence[str]) -> dict[str, Decimal]:
        wanted = list(symbols)
        raw = self._call(lambda: self._ex.fetch_mark_prices(wanted), write=False, what="mark prices")
        out = {}
        for symbol, ticker in raw.items():
            price = ticker.get("markPrice") or (ticker.get("info") or {}).get("markPrice")
            if symbol in wanted and price is not None and _dec(price) > 0:
                out[symbol] = _dec(price)
        return out

    def server_time_ms(self) -> int:
        return int(self._call(lambda: self._ex.fetch_time(), write=False, what="server time"))

    def close(self) -> None:
        try:
            self._loop.run(self._ex.close(), 10)
        except Exception as exc:  # closing is best effort; the process may be stopping
            log.debug("closing ccxt failed", extra={"reason": str(exc)})

    # --- parsing (Binance JSON, decimals from strings, never ccxt's floats) -------------

    @staticmethod
    def _from_plain(info: dict[str, Any]) -> VenueOrder:
        avg = _dec(info.get("avgPrice"))
        return VenueOrder(
            client_order_id=str(info.get("clientOrderId")),
            venue_order_id=str(info.get("orderId")),
            status=VenueStatus(info["status"]),
            filled_quantity=_dec(info.get("executedQty")),
            average_price=avg if avg > 0 else None,
            raw_status=str(info["status"]),
        )

    def _with_trades(self, symbol: str, order: VenueOrder) -> VenueOrder:
        if order.filled_quantity <= 0:
            return order
        rows = self._call(
            lambda: self._ex.fetch_my_trades(symbol, None, None, {"orderId": order.venue_order_id}),
            write=False,
            what=f"trades of {order.client_order_id}",
        )
        trades = tuple(
            VenueTrade(
                trade_id=str(t["info"]["id"]),
                quantity=_dec(t["info"]["qty"]),
                price=_dec(t["info"]["price"]),
                fee=_dec(t["info"].get("commission")),
                fee_asset=t["info"].get("commissionAsset"),
                is_maker=t["info"].get("maker"),
                time=datetime.fromtimestamp(int(t["info"]["time"]) / 1000, UTC),
            )
            for t in rows
            if str(t["info"].get("orderId")) == order.venue_order_id
        )
        return VenueOrder(
            order.client_order_id,
            order.venue_order_id,
            order.status,
            order.filled_quantity,
            order.average_price,
            trades,
            order.raw_status,
        )

    def _from_algo(self, symbol: str, info: dict[str, Any], *, with_trades: bool) -> VenueOrder:
        """An algo (conditional) order; once triggered its fills are the child order's."""
        cid, algo_id, status = str(info.get("clientAlgoId")), str(info.get("algoId")), str(info.get("algoStatus"))
        child = info.get("actualOrderId")
        if status in ("TRIGGERED", "FINISHED") and child:
            raw = self._call(lambda: self._ex.fetch_order(str(child), symbol), write=False, what=f"child of {cid}")
            inner = self._from_plain(raw["info"])
            inner = self._with_trades(symbol, inner) if with_trades else inner
            return VenueOrder(
                cid,
                algo_id,
                inner.status,
                inner.filled_quantity,
                inner.average_price,
                inner.trades,
                f"{status}/{inner.raw_status}",
            )
        mapped = {
            "NEW": VenueStatus.NEW,
            "TRIGGERED": VenueStatus.NEW,
            "CANCELED": VenueStatus.CANCELED,
            "EXPIRED": VenueStatus.EXPIRED,
            "REJECTED": VenueStatus.REJECTED,
        }.get(status)
        if mapped is None:
            raise VenueUnavailable(f"algo order {cid} has a status we do not know: {status}")
        return VenueOrder(cid, algo_id, mapped, raw_status=status)
