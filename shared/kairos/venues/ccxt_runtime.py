"""What every ccxt venue of a process shares: one asyncio loop thread and one TLS context.

ccxt's async clients need an event loop; the executor's and the reconciler's handlers are
blocking threads. Every LIVE adapter therefore runs its coroutines on one background loop
(``LoopThread``) and blocks the calling thread on the result.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import certifi

R = TypeVar("R")


class LoopThread:
    """One asyncio loop in a daemon thread, shared by every LIVE adapter of the process."""

    _lock = threading.Lock()
    _instance: LoopThread | None = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="kairos-venue-loop", daemon=True).start()

    @classmethod
    def get(cls) -> LoopThread:
        with cls._lock:
            if cls._instance is None:
                cls._instance = LoopThread()
            return cls._instance

    def run(self, coro: Coroutine[Any, Any, R], timeout: float) -> R:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@functools.lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every account's client. ccxt builds its own per instance, loading the
    CA bundle each time (~20 ms of CPU): with hundreds of accounts that was seconds of the
    executor's start and of a burst (docs/PERFORMANCE.md). Same CA file as ccxt's default."""
    return ssl.create_default_context(cafile=certifi.where())


def dec(value: Any) -> Decimal:
    """A venue's decimal string as Decimal (never through float); empty or missing is zero."""
    return Decimal(str(value)) if value not in (None, "") else Decimal("0")
