"""Waiting for a condition with a deadline (never a bare sleep in a test)."""

from __future__ import annotations

import time
from typing import Any


def wait_until(predicate: Any, timeout: float = 20.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.05)
