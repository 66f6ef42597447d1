"""SHADOW trigger simulation: TP/SL/trailing fills over price paths, through the same fold."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from kairos.contracts.positions import PositionEventKind as K
from kairos.positions.fold import apply_fill
from kairos.positions.model import PositionStatus, ProtectiveKind, TrailingMode
from kairos.positions.shadow import FillModel, PricePoint, fill_price, simulate
from kairos.positions.targets import compute
from kairos_testkit.position_builders import RULES, D, at, fill, opened, protection

NO_COST = FillModel()


def path(*prices: str | int) -> list[PricePoint]:
    return [PricePoint(at(i), D(p)) for i, p in enumerate(prices)]


def test_tps_fill_level_by_level_and_close_the_long() -> None:
    pos = opened()
    result = simulate(pos, path(100, 105, 111, 115, 121, 130), RULES, NO_COST)
    assert [(t.kind, t.level, t.fill_price, t.quantity) for t in result.triggers] == [
        (ProtectiveKind.TP, 0, D(111), D("0.5")),
        (ProtectiveKind.TP, 1, D(121), D("0.5")),
    ]
    assert result.position.status is PositionStatus.CLOSED and result.position.realised_pnl == D(16)
    assert result.position.tp_filled == {0: D("0.5"), 1: D("0.5")}
    assert [e.kind for e in result.events] == [K.PARTIALLY_CLOSED, K.STATUS_CHANGED, K.CLOSED, K.STATUS_CHANGED]


def test_stop_fills_with_slippage_and_fee_against_the_position() -> None:
    model = FillModel(slippage_bps=D(10), fee_rate=D("0.0004"))
    result = simulate(opened(), path(95, 89), RULES, model)
    (trigger,) = result.triggers
    assert trigger.kind is ProtectiveKind.SL and trigger.fill_price == D("88.91")
    assert result.fills[0].fee == D("0.035564")
    assert result.position.realised_pnl == D("-11.09") - D("0.035564")


def test_short_mirrors_long() -> None:
    pos = opened("sell", prot=protection(tps=(("90", "1"),), sl="110"))
    assert simulate(pos, path(95, 89), RULES, NO_COST).position.realised_pnl == D(11)
    stopped = simulate(pos, path(105, 111), RULES, FillModel(slippage_bps=D(10)))
    assert stopped.triggers[0].fill_price == D("111.12") and stopped.position.status is PositionStatus.CLOSED


def test_emulated_trail_follows_the_extreme_and_triggers_at_callback_distance() -> None:
    pos = opened(prot=protection(tps=(), sl="90", trail=("105", "2", TrailingMode.EMULATED)))
    result = simulate(pos, path(104, 110, 120, 118, "117.60", 100), RULES, NO_COST)
    (trigger,) = result.triggers
    assert trigger.kind is ProtectiveKind.SL and trigger.observed == D("117.60") and trigger.at == at(4)


def test_native_trail_uses_the_venue_rule_and_exits_everything() -> None:
    pos = opened(prot=protection(tps=(("200", "1"),), sl="90", trail=("105", "1", TrailingMode.NATIVE)))
    result = simulate(pos, path(104, 106, 110, "108.9", 100), RULES, NO_COST)
    (trigger,) = result.triggers
    assert (trigger.kind, trigger.observed, trigger.quantity) == (ProtectiveKind.TRAILING, D("108.9"), D(1))


def test_path_without_trigger_leaves_the_position_and_no_fills() -> None:
    result = simulate(opened(), path(100, 101, 99), RULES, NO_COST)
    assert result.fills == () and result.position.quantity == D(1)


def test_fill_price_rounds_against_the_order() -> None:
    assert fill_price(fill("sell", "1", "1").side, D("100.005"), NO_COST, D("0.01")) == D(100)
    assert fill_price(fill("buy", "1", "1").side, D("100.001"), NO_COST, D("0.01")) == D("100.01")


prices = st.lists(st.integers(min_value=8000, max_value=13000).map(lambda n: D(n) / 100), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(prices, st.sampled_from(["buy", "sell"]), st.sampled_from([TrailingMode.EMULATED, TrailingMode.NATIVE, None]),
       st.integers(min_value=0, max_value=50))
def test_shadow_triggers_only_past_targets_and_refolds_to_the_same_position(
    walk: list[Decimal], side: str, trail: TrailingMode | None, slip_bps: int
) -> None:
    tps, sl = ((("110", "0.5"), ("120", "0.5")), "90") if side == "buy" else ((("90", "0.5"), ("80", "0.5")), "110")
    start = opened(side, prot=protection(tps=tps, sl=sl, trail=(None, "1", trail) if trail else None))
    model = FillModel(slippage_bps=D(slip_bps))
    result = simulate(start, [PricePoint(at(i), p) for i, p in enumerate(walk)], RULES, model)
    slip = D(slip_bps) / 10_000
    for t in result.triggers:
        assert abs(t.fill_price - t.observed) <= t.observed * slip + RULES.tick_size
        if t.kind is ProtectiveKind.TP:
            level = compute(start, RULES).tps[t.level or 0].price
            assert t.observed >= level if side == "buy" else t.observed <= level
    refolded = start
    for f in result.fills:
        refolded = apply_fill(refolded, f).position
    assert refolded.quantity == result.position.quantity and refolded.realised_pnl == result.position.realised_pnl
    assert result.position.quantity >= 0
