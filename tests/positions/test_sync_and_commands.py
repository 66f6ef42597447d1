"""One sync decided (diagnostics once, the two checked steps, the outcome), and actions as executor commands."""

from __future__ import annotations

from typing import Any

import pytest
from kairos.contracts.commands import ExecuteTrade
from kairos.positions import diagnostics, sync
from kairos.positions import plan as plan_module
from kairos.positions.actions import Action, ActionKind, execute_trade_fields
from kairos.positions.diagnostics import Diagnostics, Phase
from kairos.positions.fold import OpenDefaults, apply_fill
from kairos.positions.model import Mode, PositionSide, ProtectiveKind, TrailingMode
from kairos.positions.plan import PlacementFailure, Rejection, VenueChecks, plan
from kairos.positions.sync import UnfoldedFills, decide, outcome
from kairos_testkit.position_builders import RULES, T0, D, fill, full_protection, opened, protection

NOTHING_UNFOLDED = UnfoldedFills(D(0), tp=False)


def _kinds(steps: tuple[Action | str, ...]) -> list[str]:
    return [s if isinstance(s, str) else f"{s.kind.value} {s.target.value if s.target else ''}" for s in steps]


def test_a_new_position_places_its_tps_and_the_sl_waits_for_their_event() -> None:
    pos = opened()
    decision = decide(pos, [], RULES, mark=None, unfolded=NOTHING_UNFOLDED)
    assert _kinds(decision.steps) == ["place TP", "place TP", "SL step waits for the TP order's event"]
    out = outcome(pos, decision, ["placed TP", "placed TP"], T0)
    assert (out.phase, out.protected, out.at, out.mode) == (Phase.CREATION, False, T0, Mode.LIVE)
    assert out.text() == "creation/LIVE: placed TP; placed TP"


def test_resting_tps_release_the_sl_step_and_a_protected_position_does_nothing() -> None:
    pos = opened()
    tps = full_protection(pos)[:2]
    decision = decide(pos, tps, RULES, mark=None, unfolded=NOTHING_UNFOLDED)
    assert [a.target for a in decision.steps if isinstance(a, Action)] == [ProtectiveKind.SL]
    shadow = pos.model_copy(update={"mode": Mode.SHADOW})
    done = decide(shadow, full_protection(pos), RULES, mark=None, unfolded=NOTHING_UNFOLDED)
    assert done.steps == () and done.trail_state is None
    assert outcome(shadow, done, [], T0).text() == "ongoing/SHADOW: nothing to do"


def test_unfolded_protective_fills_hold_the_sync_and_a_folded_tp_fill_blocks_the_sl() -> None:
    pos = opened()
    waiting = decide(pos, [], RULES, mark=None, unfolded=UnfoldedFills(D("0.5"), tp=True))
    assert waiting.steps == ("waiting for 0.5 of protective fills to fold (re-read), SL blocked: tp_filled",)
    tps = full_protection(pos)[:2]
    blocked = decide(pos, tps, RULES, mark=None, unfolded=UnfoldedFills(D(0), tp=True))
    assert "SL blocked: tp_filled" in blocked.steps
    assert not any(isinstance(a, Action) and a.target is ProtectiveKind.SL for a in blocked.steps)


def test_a_sync_derives_the_diagnostics_once_though_it_plans_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Diagnostics:
        calls.append(1)
        return diagnostics.derive(*args, **kwargs)

    monkeypatch.setattr(sync, "derive", counting)
    monkeypatch.setattr(plan_module, "derive", counting)
    pos = opened()
    decision = decide(pos, full_protection(pos)[:2], RULES, mark=None, unfolded=NOTHING_UNFOLDED)  # TP step + SL step
    assert any(isinstance(a, Action) and a.target is ProtectiveKind.SL for a in decision.steps)
    assert len(calls) == 1


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
