"""A scripted HTTP sink: the far end of a delivery, answering each request as the test decides."""

from __future__ import annotations

import time
from typing import Any


class ScriptedSink:
    """A local HTTP sink that records every request and answers as a script says.

    ``script(n, headers, body)`` returns (status, body, delay_seconds) for the n-th request.
    """

    def __init__(self, script: Any = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.script = script or (lambda n, h, b: (204, b"", 0.0))
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with sink._lock:
                    sink.requests.append((headers, body))
                    n = len(sink.requests)
                status, out, delay = sink.script(n, headers, body)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [h.get("ce-id", "") for h, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
