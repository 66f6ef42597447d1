"""The venue-call retry policy shared by the poller (async) and the command-line tools (sync)."""

from __future__ import annotations

import asyncio

import pytest
from ccxt.base import errors as cx
from kairos.marketdata.poll import Backoff, call_with_backoff, with_backoff


def test_pauses_double_wait_four_times_longer_when_asked_to_slow_down_and_are_capped() -> None:
    b = Backoff(attempts=5, first_delay_s=0.25, max_delay_s=4.0)
    timeout = cx.RequestTimeout("slow")
    assert [b.pause_s(n, timeout) for n in (1, 2, 3, 4, 5, 6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert [b.pause_s(n, cx.DDoSProtection("429")) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]


class Flaky:
    """Fails with ``errors`` in turn, then answers ``ok``; counts the calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


FAST = Backoff(attempts=3, first_delay_s=0.001, max_delay_s=0.002)


def test_transient_failures_are_retried_until_the_attempts_run_out() -> None:
    flaky = Flaky(cx.RequestTimeout("t"), cx.ExchangeNotAvailable("502"))
    assert call_with_backoff(flaky, "klines", FAST) == "ok" and flaky.calls == 3
    too_flaky = Flaky(*(cx.NetworkError(f"n{i}") for i in range(3)))
    with pytest.raises(cx.NetworkError, match="n2"):
        call_with_backoff(too_flaky, "klines", FAST)
    assert too_flaky.calls == 3


def test_a_refusal_is_not_retried_and_the_async_twin_behaves_the_same() -> None:
    refused = Flaky(cx.BadSymbol("no such market"))
    with pytest.raises(cx.BadSymbol):
        call_with_backoff(refused, "klines", FAST)
    assert refused.calls == 1

    async def run(flaky: Flaky) -> str:
        async def call() -> str:
            return flaky()

        return await with_backoff(call, "klines", FAST)

    flaky = Flaky(cx.DDoSProtection("429"), cx.OnMaintenance("down"))
    assert asyncio.run(run(flaky)) == "ok" and flaky.calls == 3
    with pytest.raises(cx.RequestTimeout):
        asyncio.run(run(Flaky(*(cx.RequestTimeout("t") for _ in range(3)))))
