"""A local NEAR Intents solver bus speaking the documented websocket JSON-RPC protocol.

Clients send ``{"jsonrpc":"2.0","id":1,"method":"subscribe","params":["quote"]}`` and get
``{"jsonrpc":"2.0","id":1,"result":"<subscription id>"}``, then one message per quote:
``{"jsonrpc":"2.0","method":"subscribe","params":{"subscription":…,"quote_id":…,…}}``.

Quotes come from a seeded generator at a configurable rate, so tests and ``make run``
see a reproducible stream. ``drop_after`` closes a connection abruptly after that many
quotes (the reconnect test); ``malformed_every`` makes every Nth quote invalid (so the
dead-letter path has something to show). ``sent`` lists every quote id actually written
to a subscribed client, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import threading
import uuid
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from kairos.venues.near_intents.assets import KNOWN_ASSETS

log = logging.getLogger(__name__)

_PAIRS = [
    ("nep141:wrap.near", "nep141:17208628f84f5d6ad33f0da3bbbeb27ffcb398eac501a31bd6ad2011e36133a1"),
    ("nep141:17208628f84f5d6ad33f0da3bbbeb27ffcb398eac501a31bd6ad2011e36133a1", "nep141:wrap.near"),
    ("nep141:wrap.near", "nep141:usdt.tether-token.near"),
    ("nep141:eth.omft.near", "nep141:17208628f84f5d6ad33f0da3bbbeb27ffcb398eac501a31bd6ad2011e36133a1"),
    ("nep141:btc.omft.near", "nep141:17208628f84f5d6ad33f0da3bbbeb27ffcb398eac501a31bd6ad2011e36133a1"),
    ("nep141:sol.omft.near", "nep141:wrap.near"),
]


class QuoteGenerator:
    """Deterministic quotes for a seed: the n-th quote is always the same."""

    def __init__(self, seed: int, malformed_every: int = 0) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.count = 0
        self.malformed_every = malformed_every

    def next(self) -> dict[str, Any]:
        self.count += 1
        asset_in, asset_out = self.rng.choice(_PAIRS)
        exact_in = self.rng.random() < 0.7
        amount_asset = asset_in if exact_in else asset_out
        decimals = KNOWN_ASSETS[amount_asset][1]
        units = self.rng.randint(1, 5000)
        amount = str(units * 10 ** max(decimals - 2, 0))
        quote: dict[str, Any] = {
            "quote_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "defuse_asset_identifier_in": asset_in,
            "defuse_asset_identifier_out": asset_out,
            ("exact_amount_in" if exact_in else "exact_amount_out"): amount,
            "min_deadline_ms": self.rng.choice([30_000, 60_000, 120_000]),
        }
        if self.malformed_every and self.count % self.malformed_every == 0:
            quote["exact_amount_in" if exact_in else "exact_amount_out"] = "-1.5"
        return quote


class FakeSolverBus:
    """The fake bus, run on its own event loop thread (``start``/``stop``) or awaited."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float = 20.0,
        seed: int = 7,
        total: int | None = None,
        drop_after: int | None = None,
        drop_times: int = 1,
        malformed_every: int = 0,
    ) -> None:
        self.host, self.port = host, port
        self.rate, self.total = rate, total
        self.drop_after, self.drop_times = drop_after, drop_times
        self.generator = QuoteGenerator(seed, malformed_every)
        self.sent: list[str] = []
        self.connections = 0
        self._drops = 0
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        try:
            request = json.loads(await ws.recv())
            if request.get("method") != "subscribe" or request.get("params") != ["quote"]:
                await ws.send(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": request.get("id"),
                            "error": {"code": -32602, "message": "only subscribe [quote] is served"},
                        }
                    )
                )
                return
            sub = uuid.uuid4().hex
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "result": sub}))
            sent_here = 0
            while self.total is None or len(self.sent) < self.total:
                async with self._lock:  # one generator, many connections: keep the sequence
                    if self.total is not None and len(self.sent) >= self.total:
                        break
                    quote = self.generator.next()
                    await ws.send(
                        json.dumps({"jsonrpc": "2.0", "method": "subscribe", "params": {"subscription": sub, **quote}})
                    )
                    self.sent.append(quote["quote_id"])
                sent_here += 1
                if self.drop_after and sent_here >= self.drop_after and self._drops < self.drop_times:
                    self._drops += 1
                    log.info("fake bus drops the connection", extra={"after": sent_here})
                    ws.transport.abort()  # abrupt: no close frame, like a network cut
                    return
                await asyncio.sleep(1.0 / self.rate if self.rate > 0 else 0)
            await asyncio.Future()  # stream finished: keep the connection open
        except (ConnectionClosed, json.JSONDecodeError):
            return

    async def serve_forever(self) -> None:
        async with serve(self._handler, self.host, self.port) as server:
            self._server = server
            self.port = next(iter(server.sockets)).getsockname()[1]
            await server.serve_forever()

    def start(self) -> str:
        """Serve on a background thread; returns the websocket URL once listening."""
        ready = threading.Event()

        def runner() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)

            async def main() -> None:
                async with serve(self._handler, self.host, self.port) as server:
                    self._server = server
                    self.port = next(iter(server.sockets)).getsockname()[1]
                    ready.set()
                    await server.serve_forever()

            try:
                self._loop.run_until_complete(main())
            except asyncio.CancelledError:
                pass

        self._thread = threading.Thread(target=runner, name="fake-solver-bus", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake solver bus did not start")
        return self.url

    def stop(self) -> None:
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread:
            self._thread.join(timeout=5)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate", type=float, default=5.0, help="quotes per second per subscriber")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--total", type=int, default=None, help="stop after this many quotes")
    parser.add_argument("--malformed-every", type=int, default=0, help="every Nth quote is invalid")


def run(args: argparse.Namespace) -> int:
    from kairos.runtime import logs

    logs.configure(service="fake-solver-bus")
    bus = FakeSolverBus(
        args.host, args.port, rate=args.rate, seed=args.seed, total=args.total, malformed_every=args.malformed_every
    )
    log.info("fake solver bus listening", extra={"url": bus.url})
    try:
        asyncio.run(bus.serve_forever())
    except KeyboardInterrupt:
        pass
    return 0
