"""The executor's venue check before a reduce-only stop (seed 002), as a pure decision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kairos.execution import stop_check

D = Decimal


@pytest.mark.parametrize(("side", "qty", "amounts", "sendable"), [
    ("sell", "0.010", ["0.010"], True),    # a long's stop, the whole position
    ("sell", "0.005", ["0.010"], True),    # a smaller stop is still covered
    ("buy", "0.010", ["-0.010"], True),    # a short's stop
    ("sell", "0.010", [], False),          # nothing held: closed behind our back
    ("sell", "0.010", ["-0.010"], False),  # held the other way: this stop would open a position
    ("buy", "0.010", ["0.010"], False),
    ("sell", "0.010", ["0.004"], False),   # a TP filled that our records do not show yet
])
def test_a_stop_is_sent_only_when_the_venue_position_holds_it(side, qty, amounts, sendable):
    why = stop_check.refusal(side, D(qty), [D(a) for a in amounts], "BTC/USDT:USDT")
    assert (why is None) is sendable
    if why is not None:  # position-sync reads it as a reduce-only rejection: re-read, not retry
        assert why.startswith("REDUCE_ONLY_PRECHECK") and "BTC/USDT:USDT" in why


def test_only_live_reduce_only_stops_are_checked():
    assert stop_check.guarded("stop_market", True, "live")
    assert stop_check.guarded("trailing_stop_market", True, "live")
    assert not stop_check.guarded("take_profit_market", True, "live")  # the TP goes first
    assert not stop_check.guarded("stop_market", False, "live")
    assert not stop_check.guarded("stop_market", True, "shadow")  # nothing held at a venue
