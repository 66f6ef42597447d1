"""Shared constants and helpers of the venue simulator tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
START_MS = 1_767_225_600_000  # 2026-01-01T00:00Z: market clock of every test venue


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run one async test body (no asyncio plugin needed)."""
    return asyncio.run(coro)
