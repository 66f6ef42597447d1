"""Run the venue simulator from tests and benchmarks, and steer it through its control API.

``running_venue_sim`` starts a real HTTP server on a free port in a background thread;
ccxt talks to it over TCP like to any exchange. The handle's ``control`` client drives
the market clock, prices and faults and reads the venue's own truth.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from kairos.venue_sim import DEMO_API_KEY, DEMO_API_SECRET
from kairos.venue_sim.faults import FaultState
from kairos.venue_sim.server import AuditLog, VenueServer
from kairos.venue_sim.venue import AccountSeed, Venue, VenueConfig
from kairos.venues.binance_usdm.client import make_client

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
START_MS = 1_767_225_600_000  # 2026-01-01T00:00Z: market clock of every test venue


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run one async test body (no asyncio plugin needed)."""
    return asyncio.run(coro)


class ControlClient:
    """Synchronous client of ``/_sim``; raises RuntimeError with the venue's reason on 4xx."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/") + "/_sim"

    def _call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = self.base + path
        q = {k: v for k, v in query.items() if v is not None}
        if q:
            url += "?" + urllib.parse.urlencode(q)
        data = json.dumps(body, default=str).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"venue control {method} {path} failed: {exc.read().decode()}") from exc

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    def step(self, seconds: float | None = None, *, ticks: int | None = None) -> dict[str, Any]:
        """Advance the market clock (one tick = 1 s by default); triggers and fills run per tick."""
        return dict(self._call("POST", "/step", {"ticks": ticks} if ticks is not None else {"seconds": seconds or 0}))

    def set_price(self, symbol: str, price: Decimal | str, mark: Decimal | str | None = None,
                  hold: bool = True) -> dict[str, Any]:  # fmt: skip
        return dict(self._call("POST", "/price", {"symbol": symbol, "price": str(price), "hold": hold,
                                                  **({"mark": str(mark)} if mark is not None else {})}))  # fmt: skip

    def script(self, symbol: str, prices: list[Decimal | str]) -> dict[str, Any]:
        return dict(self._call("POST", "/script", {"symbol": symbol, "prices": [str(p) for p in prices]}))

    def release(self, symbol: str) -> dict[str, Any]:
        return dict(self._call("POST", "/release", {"symbol": symbol}))

    def set_clock(self, mode: str, speed: float = 1.0) -> dict[str, Any]:
        return dict(self._call("POST", "/clock", {"mode": mode, "speed": speed}))

    def set_faults(self, rules: list[dict[str, Any]] | None = None, *, clock_offset_ms: int | None = None,
                   maintenance: bool | None = None, replace: bool = True) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"rules": rules or []}
        if clock_offset_ms is not None:
            body["clock_offset_ms"] = clock_offset_ms
        if maintenance is not None:
            body["maintenance"] = maintenance
        return dict(self._call("PUT" if replace else "POST", "/faults", body))

    def clear_faults(self) -> dict[str, Any]:
        return dict(self._call("DELETE", "/faults"))

    def add_account(self, api_key: str, secret: str, balance: Decimal | str = "100000") -> None:
        self._call("POST", "/accounts", {"api_key": api_key, "secret": secret, "balance": str(balance)})

    def orders(self, account: str | None = None) -> dict[str, list[dict[str, Any]]]:
        return dict(self._call("GET", "/orders", account=account))

    def fills(self, account: str | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", "/fills", account=account))

    def positions(self, account: str | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", "/positions", account=account))

    def events(self, kind: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return list(self._call("GET", "/events", kind=kind, since=since))

    def audit(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._call("GET", "/audit", since=since))

    def fix_kline(self, symbol: str, open_time: int, ohlcv: dict[str, str], interval: str = "1m") -> None:
        """The venue corrects a candle: ``ohlcv`` has open, high, low, close, volume."""
        self._call("POST", "/klines/fix", {"symbol": symbol, "interval": interval, "open_time": open_time, **ohlcv})

    def kline_hole(self, symbol: str, start: int, end: int) -> None:
        """The venue serves no candle opening in [start, end)."""
        self._call("POST", "/klines/hole", {"symbol": symbol, "start": start, "end": end})


@dataclass
class VenueSimHandle:
    base_url: str
    api_key: str
    secret: str
    control: ControlClient
    venue: Venue  # in-process access for assertions; mutate only through ``control``

    def ccxt(self, *, async_: bool = False, api_key: str | None = None, secret: str | None = None,
             **options: Any) -> Any:  # fmt: skip
        """An unmodified ccxt binanceusdm for this venue (``kairos.venues.binance_usdm.client``)."""
        return make_client(self.base_url, api_key or self.api_key, secret or self.secret, async_=async_, **options)


@contextmanager
def running_venue_sim(
    seed: int = 1,
    accounts: list[AccountSeed] | None = None,
    faults: dict[str, Any] | None = None,
    *,
    data: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    audit_path: Path | None = None,
    **config: Any,
) -> Iterator[VenueSimHandle]:
    """Serve a fresh venue in a background thread for the duration of the ``with`` block.

    ``accounts`` default to one demo account (100 000 USDT) whose credentials the handle
    carries; ``faults`` is a fault spec as in ``faults.FaultState.configure``; ``config``
    goes to ``VenueConfig`` (``tick_ms``, ``clock``, ``start_ms``, ``warmup_ticks``, ...).
    """
    seeds = accounts or [AccountSeed(DEMO_API_KEY, DEMO_API_SECRET)]
    venue = Venue(VenueConfig(seed=seed, data=data, accounts=seeds, **config))
    fault_state = FaultState(seed=seed)
    if faults:
        fault_state.configure(faults)
    server = VenueServer(venue, fault_state, AuditLog(audit_path), host, port)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:  # surfaced to the caller below
            errors.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=run, name=f"venue-sim-{seed}", daemon=True)
    thread.start()
    started.wait(30)
    if errors:
        raise RuntimeError(f"venue simulator failed to start on {host}:{port}: {errors[0]}") from errors[0]
    base_url = f"http://{host}:{server.port}"
    try:
        yield VenueSimHandle(base_url, seeds[0].api_key, seeds[0].secret, ControlClient(base_url), venue)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
