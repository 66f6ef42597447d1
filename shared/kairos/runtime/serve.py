"""``kairos serve FUNCTION``: serve one function project exactly as its container does.

func-python serves the function (``LISTEN_ADDRESS``, liveness, CloudEvent decoding). We
wrap its ASGI application twice: :class:`~kairos.runtime.ingress.CloudEventGate` checks
each raw request before func-python decodes it (required attributes, 4xx with a JSON
reason for any bad input) and answers readiness (503, naming the function); and
``GET /metrics`` answers in Prometheus format, which func-python would try to decode as a
CloudEvent. The function image runs this command, so the cluster gets the same edge.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any

from kairos.contracts.limits import EVENT_OVERHEAD_BYTES, MAX_REQUEST_BYTES
from kairos.runtime import logs
from kairos.runtime.ingress import CloudEventGate, HttpGate
from kairos.runtime.loader import load_func_module

log = logging.getLogger(__name__)

#: An inherited, already listening socket's file descriptor to serve on (``kairos dev``
#: binds each function's port itself, so two children can never race for one port).
LISTEN_FD_ENV = "KAIROS_LISTEN_FD"


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


class Started:
    """The function object with ``start`` already called, as func-python sees it.

    hypercorn swallows an exception raised during lifespan start-up and serves anyway
    ("continuing without Lifespan support"), which would leave a function that failed to
    start answering "not ready" forever. So ``start`` runs before the server, a failure
    exits the process with the reason, and func-python gets this proxy without ``start``.
    """

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.fn.handle(scope, receive, send)

    def stop(self) -> None:
        if hasattr(self.fn, "stop"):
            self.fn.stop()

    def alive(self) -> Any:
        return self.fn.alive() if hasattr(self.fn, "alive") else True

    def ready(self) -> Any:
        return self.fn.ready() if hasattr(self.fn, "ready") else True


def serve(name_or_path: str) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code (3 when the function cannot start)."""
    import func_python.sock
    import hypercorn.asyncio
    import hypercorn.config
    from func_python.cloudevent import ASGIApplication

    logs.configure()
    module = load_func_module(name_or_path)
    fn = module.new()
    if hasattr(fn, "start"):
        try:
            fn.start(os.environ.copy())
        except Exception as exc:
            log.error("function failed to start", extra={"function": name_or_path, "reason": f"{exc}"})
            print(f"kairos serve {name_or_path}: cannot start: {exc}", file=sys.stderr)
            return 3
    settings = getattr(fn, "settings", None)
    limit = settings.max_event_bytes + EVENT_OVERHEAD_BYTES if settings is not None else MAX_REQUEST_BYTES
    name = getattr(fn, "name", name_or_path)
    app: Any
    if getattr(fn, "kind", "event") == "http":
        app = HttpGate(None, fn, name)  # an HTTP function answers its own routes
    else:
        app = CloudEventGate(ASGIApplication(Started(fn)), fn, name, max_body_bytes=limit)
    cfg = hypercorn.config.Config()
    inherited = os.environ.get(LISTEN_FD_ENV)
    # kairos dev binds the port itself and passes the listening socket (no port race);
    # otherwise func-python binds LISTEN_ADDRESS as in the container.
    cfg.bind = [f"fd://{int(inherited)}"] if inherited else func_python.sock.bind()
    cfg.graceful_timeout = 10
    cfg.accesslog = None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hypercorn.asyncio.serve(MetricsRoute(app), cfg, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(main())
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("function", help="function name (functions/<name>) or path to a function project")
    parser.add_argument("--port", type=int, help="listen on 127.0.0.1:PORT (default: LISTEN_ADDRESS or :8080)")


def run(args: argparse.Namespace) -> int:
    if args.port:
        os.environ["LISTEN_ADDRESS"] = f"127.0.0.1:{args.port}"
    return serve(args.function)
