"""``kairos dev`` binds each function's port itself and hands the listening socket to the
child: nobody can take the port in between, a restarted child gets it back, and readiness
counts only when the answer names the function the runner started."""

from __future__ import annotations

import errno
import socket
import time

import httpx
import pytest
from kairos.catalog import load_catalog
from kairos.dev.build import Infra, function_processes
from kairos.dev.state import StateDir
from kairos.dev.supervisor import ManagedProcess, stop_all
from kairos_testkit.functions import catalog_env
from kairos_testkit.topics import create_topics


def wait_ready(proc: ManagedProcess, client: httpx.Client, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not proc.is_ready(client):
        assert proc.running(), proc.log_path.read_text()[-2000:]
        assert time.monotonic() < deadline, f"{proc.name} not ready"
        time.sleep(0.1)


@pytest.mark.slow
def test_function_ports_are_held_from_the_start_and_kept_across_a_restart(database_url, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    infra = Infra(database_url, kafka_bootstrap, "tansu", {}, {})
    [proc] = function_processes(load_catalog(), StateDir(tmp_path), infra, {"normalize-near-intents"})
    proc.env.update(catalog_env("normalize-near-intents"))
    port = int(proc.url.rsplit(":", 1)[1]) if proc.url else 0
    intruder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(OSError) as taken:  # another process cannot take the port before the child starts
        intruder.bind(("127.0.0.1", port))
    intruder.close()
    assert taken.value.errno == errno.EADDRINUSE
    try:
        with httpx.Client() as client:
            proc.start()
            wait_ready(proc, client)
            proc.signal(9)
            proc.process.wait(10)  # type: ignore[union-attr]
            proc.start()  # the supervisor's restart: same socket, same port, same URL
            wait_ready(proc, client)
            assert httpx.get(f"{proc.url}/health/readiness").json()["function"] == "normalize-near-intents"
    finally:
        stop_all([proc], 10)


def test_readiness_from_another_function_on_the_port_does_not_count(tmp_path):
    """Whoever answers on the port must name the function the runner started."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Other(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"function": "reactor", "ready": True, "reason": "ready"}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Other)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    procs = [
        ManagedProcess(name, "function", ["sleep", "30"], {}, tmp_path / f"{name}.log", url, "/health/readiness")
        for name in ("executor", "reactor")
    ]
    try:
        for p in procs:
            p.start()
        with httpx.Client() as client:
            assert [p.is_ready(client) for p in procs] == [False, True]
    finally:
        stop_all(procs, 5)
        server.shutdown()
