"""``kairos serve FUNCTION``: serve one function project exactly as its container does.

func-python serves the function (``LISTEN_ADDRESS``, health endpoints, CloudEvent
decoding). We wrap its ASGI application for one reason: ``GET /metrics`` must answer in
Prometheus format, and func-python would try to decode that request as a CloudEvent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from kairos.runtime import logs
from kairos.runtime.loader import load_func_module


class MetricsRoute:
    """ASGI middleware answering ``/metrics``; everything else goes to func-python."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("path") == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            body = generate_latest()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def serve(name_or_path: str) -> None:
    import func_python.sock
    import hypercorn.asyncio
    import hypercorn.config
    from func_python.cloudevent import ASGIApplication

    logs.configure()
    module = load_func_module(name_or_path)
    app = ASGIApplication(module.new())
    cfg = hypercorn.config.Config()
    cfg.bind = func_python.sock.bind()
    cfg.graceful_timeout = 10
    cfg.accesslog = None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hypercorn.asyncio.serve(MetricsRoute(app), cfg, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(main())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("function", help="function name (functions/<name>) or path to a function project")
    parser.add_argument("--port", type=int, help="listen on 127.0.0.1:PORT (default: LISTEN_ADDRESS or :8080)")


def run(args: argparse.Namespace) -> int:
    if args.port:
        os.environ["LISTEN_ADDRESS"] = f"127.0.0.1:{args.port}"
    serve(args.function)
    return 0
