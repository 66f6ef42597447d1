"""NEAR Intents websocket ingest: the solver bus's quotes onto ``raw.near_intents.quote``.

A long-running source, not a function: it holds a websocket. It subscribes to quotes,
publishes each message unchanged inside a raw envelope, and on any disconnect reconnects
with capped exponential backoff and subscribes again. An event id is derived from the
quote id, so a quote seen twice (e.g. around a reconnect) is deduped downstream.

Sinks: Kafka directly (local runner, tests) or an HTTP CloudEvents sink given by ``K_SINK``
(Knative ContainerSource/SinkBinding, which hands it a KafkaSink's URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from kairos.bus.sinks import Sink, sink_from_env
from kairos.contracts.envelope import Envelope, new_event, stable_id
from kairos.contracts.near_intents import RawNearIntentsQuote
from kairos.venues.near_intents import VENUE

log = logging.getLogger(__name__)

SOURCE = "/kairos/near-intents-ingest"
SUBSCRIBE = {"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": ["quote"]}
DEFAULT_URL = "wss://solver-relay-v2.chaindefuser.com/ws"


def raw_event(message: dict[str, Any], received_at: datetime) -> Envelope[RawNearIntentsQuote]:
    """The raw envelope of one solver-bus message, id derived from its quote id."""
    raw_params = message.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    nested: dict[str, Any] = params["data"] if isinstance(params.get("data"), dict) else {}
    quote_id = str(params.get("quote_id") or nested.get("quote_id") or "")
    key = quote_id or stable_id("near_intents", "frame", json.dumps(message, sort_keys=True))
    data = RawNearIntentsQuote(
        message=message,
        received_at=received_at,
        subscription=str(params["subscription"]) if params.get("subscription") else None,
    )
    return new_event(
        data,
        source=SOURCE,
        partition_key=key,
        event_id=stable_id(VENUE, "quote", key),
        observed_at=received_at,
        venue=VENUE,
    )


class NearIntentsIngest:
    """Subscribe, publish, reconnect; ``published`` counts quotes handed to the sink."""

    def __init__(
        self,
        url: str,
        sink: Sink,
        *,
        max_backoff: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.url, self.sink, self.max_backoff, self.clock = url, sink, max_backoff, clock
        self.published = 0
        self.reconnects = 0
        self.connected = False

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                await self._session(stop)
                backoff = 0.1
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError, json.JSONDecodeError) as exc:
                self.connected = False
                log.warning(
                    "solver bus connection lost; reconnecting",
                    extra={"url": self.url, "reason": f"{type(exc).__name__}: {exc}", "in_s": round(backoff, 2)},
                )
            self.sink.flush()
            if stop.is_set():
                break
            self.reconnects += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=backoff * (0.5 + random.random()))
            except TimeoutError:
                pass
            backoff = min(backoff * 2, self.max_backoff)

    async def _session(self, stop: asyncio.Event) -> None:
        async with connect(self.url, open_timeout=10, ping_interval=20, max_size=2**22) as ws:
            await ws.send(json.dumps(SUBSCRIBE))
            reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            if "error" in reply:
                raise ConnectionError(f"solver bus refused the subscription: {reply['error']}")
            self.connected = True
            log.info("subscribed to quotes", extra={"url": self.url, "subscription": reply.get("result")})
            stop_task = asyncio.ensure_future(stop.wait())
            try:
                while True:
                    recv = asyncio.ensure_future(ws.recv())
                    done, _ = await asyncio.wait({recv, stop_task}, return_when=asyncio.FIRST_COMPLETED)
                    if stop_task in done:
                        recv.cancel()
                        return
                    self._on_frame(recv.result())
            finally:
                stop_task.cancel()

    def _on_frame(self, frame: str | bytes) -> None:
        received = self.clock()
        try:
            message = json.loads(frame)
        except json.JSONDecodeError:
            # Not JSON: keep it anyway; normalize will dead-letter it with the reason.
            message = {"unparsed_frame": frame if isinstance(frame, str) else frame.decode(errors="replace")}
        if not isinstance(message, dict):
            message = {"unparsed_frame": message}
        if "id" in message and "method" not in message:
            return  # a JSON-RPC reply, not a quote
        self.sink.publish(raw_event(message, received))
        self.published += 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("NEAR_INTENTS_WS_URL", DEFAULT_URL))


def run(args: argparse.Namespace) -> int:
    import signal

    from kairos.catalog import load_catalog
    from kairos.runtime import logs

    logs.configure(service="near-intents-ingest")
    topic = load_catalog().topics[0].name
    for src in load_catalog().sources:
        if src.name == "near-intents-ingest":
            topic = src.publishes[0]
    sink = sink_from_env(os.environ, topic, client_id="near-intents-ingest")
    ingest = NearIntentsIngest(args.url, sink)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await ingest.run(stop)

    asyncio.run(main())
    sink.flush()
    sink.close()
    log.info("ingest stopped", extra={"published": ingest.published, "reconnects": ingest.reconnects})
    return 0
