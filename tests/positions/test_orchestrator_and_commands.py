"""The orchestrator's dispatch by phase and mode, and actions as executor commands."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from kairos.contracts.commands import ExecuteTrade
from kairos.positions.actions import ActionKind, execute_trade_fields
from kairos.positions.diagnostics import Diagnostics, Phase
from kairos.positions.fold import OpenDefaults, apply_fill
from kairos.positions.model import Mode, Position, PositionSide, TrailingMode
from kairos.positions.orchestrator import SyncOutcome, TradingAdapter, sync_position
from kairos.positions.plan import PlacementFailure, Rejection, VenueChecks, plan
from kairos_testkit.position_builders import RULES, T0, D, fill, full_protection, opened, protection


class Recorder:
    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.calls: list[str] = []

    async def sync_creation(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]:
        self.calls.append("creation")
        return ["placed TP", "placed SL"]

    async def sync_promotion(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]:
        self.calls.append("promotion")
        return ["resized"]

    async def sync_ongoing(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]:
        self.calls.append("ongoing")
        return []


def run(position: Position, orders: list, adapters: dict[Mode, TradingAdapter]) -> SyncOutcome:  # type: ignore[type-arg]
    return asyncio.run(sync_position(position, orders, RULES, adapters, T0))


def test_orchestrator_calls_the_phase_method_of_the_positions_mode_adapter() -> None:
    live, shadow = Recorder(Mode.LIVE), Recorder(Mode.SHADOW)
    adapters: dict[Mode, TradingAdapter] = {Mode.LIVE: live, Mode.SHADOW: shadow}
    pos = opened()
    out = run(pos, [], adapters)
    assert live.calls == ["creation"] and shadow.calls == []
    assert (out.phase, out.actions, out.protected, out.at) == (Phase.CREATION, ("placed TP", "placed SL"), False, T0)
    assert out.text() == "creation/LIVE: placed TP; placed SL"
    done = run(pos.model_copy(update={"mode": Mode.SHADOW}), full_protection(pos), adapters)
    assert shadow.calls == ["ongoing"] and done.protected and done.text() == "ongoing/SHADOW: nothing to do"


def test_orchestrator_without_adapter_for_the_mode_raises_key_error() -> None:
    with pytest.raises(KeyError):
        run(opened(), [], {Mode.SHADOW: Recorder(Mode.SHADOW)})


def test_placed_tp_sl_and_close_actions_validate_as_execute_trade_commands() -> None:
    pos = opened()
    first = plan(pos, [], RULES)
    second = plan(pos, full_protection(pos)[:2], RULES, checks=VenueChecks(True, False, D(1)))
    for action in (*first.tp, *second.sl):
        cmd = ExecuteTrade(**execute_trade_fields(action, pos))
        assert cmd.reduce_only and cmd.intent == "protective" and cmd.stop_price == action.price
    stop_fail = plan(pos, [], RULES, failures=[PlacementFailure(second.sl[0].target, Rejection.OTHER, 9)])  # type: ignore[arg-type]
    close = next(a for a in stop_fail.safety if a.kind is ActionKind.CLOSE_AT_MARKET)
    cmd = ExecuteTrade(**execute_trade_fields(close, pos))
    assert cmd.order_type == "market" and cmd.intent == "exit" and cmd.quantity == D(1)


def test_trailing_action_carries_callback_and_activation_and_others_are_refused() -> None:
    pos = opened(prot=protection(trail=("105", "1", TrailingMode.NATIVE)))
    p = plan(pos, full_protection(pos), RULES, checks=VenueChecks(True, False, D(1)))
    fields = execute_trade_fields(p.sl[0], pos)
    assert fields["order_type"] == "trailing_stop_market" and fields["callback_rate"] == D(1)
    assert fields["activation_price"] == D(105) and "stop_price" not in fields
    duplicate = plan(pos, [*full_protection(pos), *full_protection(pos)[2:]], RULES)
    cancel = duplicate.cleanup[0]
    assert cancel.kind is ActionKind.CANCEL
    with pytest.raises(ValueError, match="not a new order"):
        execute_trade_fields(cancel, pos)


def test_hedge_mode_commands_carry_the_position_side() -> None:
    pos = apply_fill(None, fill("sell", "1", "100", position_side=PositionSide.SHORT),
                     OpenDefaults(protection=protection(tps=(("90", "1"),), sl="110"))).position
    fields = execute_trade_fields(plan(pos, [], RULES).tp[0], pos)
    assert fields["position_side"] == "SHORT" and fields["side"] == "buy" and fields["stop_price"] == D(90)
