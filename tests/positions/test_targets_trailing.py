"""Targets (rounding, TP allocation, stops, trails) and the trailing-stop math."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kairos.positions import trailing
from kairos.positions.fold import apply_fill
from kairos.positions.model import (
    PositionSide,
    Protection,
    ProtectiveKind,
    StopLoss,
    TakeProfitLevel,
    Trailing,
    TrailingMode,
    TrailState,
    VenueRules,
)
from kairos.positions.targets import compute, floor_to_step, native_trailing, round_to_tick
from kairos_testkit.position_builders import LONG, RULES, SHORT, D, exit_fill, opened, protection
from pydantic import ValidationError


def test_round_to_tick_up_and_down_and_never_below_one_tick() -> None:
    assert round_to_tick(D("100.014"), D("0.01"), up=True) == D("100.02")
    assert round_to_tick(D("100.019"), D("0.01"), up=False) == D("100.01")
    assert round_to_tick(D("0.001"), D("0.01"), up=False) == D("0.01")
    assert floor_to_step(D("1.2345"), D("0.001")) == D("1.234") and floor_to_step(D(-1), D(1)) == 0


@pytest.mark.parametrize(
    ("side", "tp", "sl"),
    [("buy", D("110.00"), D("90.01")), ("sell", D("90.01"), D("110.00"))],
)
def test_triggers_round_toward_the_market_for_each_side(side: str, tp: Decimal, sl: Decimal) -> None:
    raw_tp, raw_sl = ("110.009", "90.001") if side == "buy" else ("90.001", "110.009")
    pos = opened(side, "1", "100", prot=protection(tps=((raw_tp, "1"),), sl=raw_sl))
    t = compute(pos, RULES)
    assert t.tps[0].price == tp and t.stop is not None and t.stop.price == sl


def test_distance_and_percent_specs_are_measured_from_average_entry() -> None:
    prot = Protection(
        take_profits=(TakeProfitLevel(distance_pct=D(5), fraction=D(1)),),
        stop_loss=StopLoss(distance=D("2.5")),
    )
    long, short = opened("buy", "1", "200", prot=prot), opened("sell", "1", "200", prot=prot)
    assert compute(long, RULES).tps[0].price == D(210) and compute(long, RULES).stop.price == D("197.5")  # type: ignore[union-attr]
    assert compute(short, RULES).tps[0].price == D(190) and compute(short, RULES).stop.price == D("202.5")  # type: ignore[union-attr]


def test_tp_fractions_use_peak_quantity_and_last_level_takes_the_rest() -> None:
    pos = opened(qty="1.001", prot=protection(tps=(("110", "0.5"), ("120", "0.5"))))
    t = compute(pos, RULES)
    assert [x.quantity for x in t.tps] == [D("0.500"), D("0.501")] and t.tp_quantity == D("1.001")


def test_tp_levels_below_full_exit_leave_a_runner() -> None:
    pos = opened(qty="1", prot=protection(tps=(("110", "0.25"), ("120", "0.25"))))
    assert compute(pos, RULES).tp_quantity == D("0.5")


def test_filled_tp_level_is_done_and_others_keep_their_size() -> None:
    pos = opened(qty="1", prot=protection(tps=(("110", "0.5"), ("120", "0.5"))))
    pos = apply_fill(pos, exit_fill("sell", "0.5", "110", tag=ProtectiveKind.TP, tp_level=0)).position
    t = compute(pos, RULES)
    assert t.done_levels == (0,) and [(x.level, x.quantity) for x in t.tps] == [(1, D("0.5"))]


def test_manual_partial_close_shrinks_tps_to_the_remaining_quantity() -> None:
    pos = opened(qty="1", prot=protection(tps=(("110", "0.5"), ("120", "0.5"))))
    pos = apply_fill(pos, exit_fill("sell", "0.7", "101")).position
    t = compute(pos, RULES)
    assert t.remaining == D("0.3") and [(x.level, x.quantity) for x in t.tps] == [(0, D("0.3"))]
    assert t.skipped_levels == (1,)


def test_closed_position_has_no_targets() -> None:
    pos = apply_fill(opened(), exit_fill("sell", "1", "100")).position
    t = compute(pos, RULES)
    assert t.remaining == 0 and t.tps == () and t.stop is None


def test_native_trailing_needs_config_venue_support_and_callback_range() -> None:
    native = opened(prot=protection(trail=("105", "1", TrailingMode.NATIVE)))
    assert native_trailing(native, RULES)
    assert not native_trailing(native, RULES.model_copy(update={"native_trailing": False}))
    assert not native_trailing(opened(prot=protection(trail=("105", "20", TrailingMode.NATIVE))), RULES)
    assert not native_trailing(opened(prot=protection(trail=("105", "1", TrailingMode.EMULATED))), RULES)
    t = compute(native, RULES, mark=D(101))
    assert t.trailing is not None and t.trailing.activation_price == D(105) and t.trail_state is None
    assert compute(native, RULES, mark=D(106)).trailing.activation_price is None  # type: ignore[union-attr]


def test_emulated_trail_tightens_the_stop_once_activated() -> None:
    pos = opened(prot=protection(sl="90", trail=("105", "2", TrailingMode.EMULATED)))
    assert compute(pos, RULES, mark=D(104)).stop.price == D(90)  # type: ignore[union-attr]
    t = compute(pos, RULES, mark=D(110))
    assert t.trail_state == TrailState(activated=True, extreme=D(110))
    assert t.stop is not None and t.stop.price == D("107.80") and t.stop.trailing


def test_settings_validation_refuses_ambiguous_specs() -> None:
    with pytest.raises(ValidationError):
        TakeProfitLevel(price=D(1), distance=D(1), fraction=D("0.5"))
    with pytest.raises(ValidationError):
        TakeProfitLevel(price=D(1), fraction=D("1.5"))
    with pytest.raises(ValidationError):
        StopLoss()
    with pytest.raises(ValidationError):
        Trailing(callback_rate=D(100))
    with pytest.raises(ValidationError):
        VenueRules(tick_size=D(0), step_size=D(1))


def test_trailing_short_mirrors_long() -> None:
    state = trailing.INACTIVE
    state, fired = trailing.step(state, SHORT, D(95), D(96), D(1))
    assert state.activated and state.extreme == D(95) and not fired
    state, fired = trailing.step(state, SHORT, D(90), D(96), D(1))
    assert trailing.stop_price(state, SHORT, D(1)) == D("90.9") and not fired
    _, fired = trailing.step(state, SHORT, D("90.9"), D(96), D(1))
    assert fired


def test_trailing_waits_for_activation_then_triggers_at_callback_distance() -> None:
    state, fired = trailing.step(trailing.INACTIVE, LONG, D(99), D(100), D(1))
    assert not state.activated and not fired and trailing.stop_price(state, LONG, D(1)) is None
    state, _ = trailing.step(state, LONG, D(100), D(100), D(1))
    state, _ = trailing.step(state, LONG, D(120), D(100), D(1))
    assert trailing.stop_price(state, LONG, D(1)) == D("118.8")
    assert not trailing.step(state, LONG, D("118.81"), D(100), D(1))[1]
    assert trailing.step(state, LONG, D("118.8"), D(100), D(1))[1]
    assert trailing.tighter(LONG, D(1), None) == D(1) and trailing.tighter(SHORT, D(1), D(2)) == D(1)


prices = st.lists(st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100), min_size=1, max_size=60)


@settings(max_examples=100, deadline=None)
@given(prices, st.sampled_from([LONG, SHORT]), st.integers(min_value=1, max_value=100).map(lambda n: D(n) / 10),
       st.one_of(st.none(), st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100)))
def test_trailing_stop_is_monotonic_in_the_positions_favour(
    path: list[Decimal], side: PositionSide, rate: Decimal, activation: Decimal | None
) -> None:
    state, last = trailing.INACTIVE, None
    for price in path:
        state, fired = trailing.step(state, side, price, activation, rate)
        stop = trailing.stop_price(state, side, rate)
        if last is not None:
            assert stop is not None
            assert stop >= last if side is LONG else stop <= last
        if stop is not None:
            assert fired == (price <= stop if side is LONG else price >= stop)
            last = stop


@settings(max_examples=100, deadline=None)
@given(prices)
def test_emulated_stop_target_never_loosens_along_a_path(path: list[Decimal]) -> None:
    pos = opened(prot=protection(sl="50", trail=(None, "1", TrailingMode.EMULATED)))
    last = None
    for price in path:
        t = compute(pos, RULES, mark=price)
        pos = pos.model_copy(update={"trail": t.trail_state})
        assert t.stop is not None
        assert last is None or t.stop.price >= last
        last = t.stop.price
