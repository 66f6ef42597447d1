"""Free TCP ports on loopback, for local processes that must not collide."""

from __future__ import annotations

import socket
import time


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a port the OS picks and already listening.

    Race-free, unlike :func:`free_port`: the port is never released, so no other process
    can take it. Pass the socket to a child (``pass_fds`` and ``kairos.runtime.serve.LISTEN_FD_ENV``); the
    owner keeps it open so a restarted child gets the same port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    return sock


def free_port() -> int:
    """A port that was free a moment ago (the OS picks it); another process may take it
    before the caller binds it: for children, prefer :func:`listening_socket`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    """Block until something accepts TCP connections on host:port.

    Raises TimeoutError naming the address when nothing listens within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s") from None
            time.sleep(0.05)
