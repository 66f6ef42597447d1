"""The positions fold: averages, PnL, fees, statuses, events, flips, duplicates, refusals."""

from __future__ import annotations

import pytest
from kairos.contracts.positions import PositionEventKind as K
from kairos.positions.fold import TRANSITIONS, Effect, FoldError, OpenDefaults, adopt, apply_fill, next_status
from kairos.positions.model import Position, PositionKey, PositionSide, PositionStatus, ProtectiveKind
from kairos_testkit.position_builders import ACCOUNT, SYMBOL, VENUE, D, at, exit_fill, fill, opened, protection

S = PositionStatus


def kinds(result) -> list[K]:  # type: ignore[no-untyped-def]
    return [e.kind for e in result.events]


def test_open_long_with_complete_entry_is_open_and_emits_opened_only() -> None:
    result = apply_fill(None, fill("buy", "2", "100", fee="0.2"), OpenDefaults(strategy_id="s"))
    pos = result.position
    assert (pos.side, pos.status, pos.quantity, pos.entry_price) == (PositionSide.LONG, S.OPEN, D(2), D(100))
    assert pos.realised_pnl == D("-0.2") and pos.fees_paid == D("0.2")
    assert pos.strategy_id == "s" and pos.revision == 1
    assert kinds(result) == [K.OPENED]
    assert result.events[0].previous_status is None and result.events[0].quantity_delta == D(2)


def test_open_with_entry_order_still_resting_is_opening() -> None:
    pos = apply_fill(None, fill("sell", "1", "100", order_remaining="1")).position
    assert pos.side is PositionSide.SHORT and pos.status is S.OPENING


def test_increase_weights_average_entry_and_completing_entry_changes_status() -> None:
    pos = apply_fill(None, fill("buy", "1", "100", order_remaining="3")).position
    result = apply_fill(pos, fill("buy", "3", "200", order_remaining="0", fee="1"))
    assert result.position.entry_price == D(175)
    assert result.position.quantity == D(4) and result.position.peak_quantity == D(4)
    assert result.position.status is S.OPEN
    assert kinds(result) == [K.INCREASED, K.STATUS_CHANGED]
    assert result.events[1].previous_status is S.OPENING
    assert result.position.realised_pnl == D(-1)


def test_reduce_long_realises_pnl_keeps_entry_and_marks_partially_closed() -> None:
    pos = opened(qty="2", price="100")
    result = apply_fill(pos, exit_fill("sell", "0.5", "110", fee="0.05"))
    p = result.position
    assert p.quantity == D("1.5") and p.entry_price == D(100) and p.peak_quantity == D(2)
    assert p.realised_pnl == D("4.95")
    assert p.status is S.PARTIALLY_CLOSED
    assert kinds(result) == [K.PARTIALLY_CLOSED, K.STATUS_CHANGED]
    assert result.events[0].realised_pnl_delta == D("4.95") and result.events[0].quantity_delta == D("-0.5")


def test_reduce_short_gains_when_price_falls() -> None:
    pos = opened("sell", "1", "100")
    p = apply_fill(pos, exit_fill("buy", "1", "80")).position
    assert p.realised_pnl == D(20) and p.status is S.CLOSED and p.closed_at is not None


def test_close_emits_closed_and_status_changed_and_sets_closed_at() -> None:
    pos = opened(qty="1", price="100")
    result = apply_fill(pos, exit_fill("sell", "1", "90", when=at(60)))
    assert kinds(result) == [K.CLOSED, K.STATUS_CHANGED]
    assert result.position.closed_at == at(60) and result.position.realised_pnl == D(-10)


def test_second_partial_close_emits_no_status_change() -> None:
    pos = apply_fill(opened(qty="3"), exit_fill("sell", "1", "101")).position
    assert kinds(apply_fill(pos, exit_fill("sell", "1", "102"))) == [K.PARTIALLY_CLOSED]


def test_scale_in_after_partial_close_reopens_with_status_change() -> None:
    pos = apply_fill(opened(qty="2"), exit_fill("sell", "1", "105")).position
    result = apply_fill(pos, fill("buy", "1", "110"))
    assert result.position.status is S.OPEN and result.position.entry_price == D(105)
    assert kinds(result) == [K.INCREASED, K.STATUS_CHANGED]


def test_duplicate_trade_id_is_a_noop() -> None:
    pos = opened(qty="2")
    f = exit_fill("sell", "1", "110")
    once = apply_fill(pos, f).position
    again = apply_fill(once, f)
    assert again.duplicate and again.position == once and again.events == ()


def test_tp_tagged_fill_records_filled_quantity_per_level() -> None:
    pos = opened(qty="2")
    pos = apply_fill(pos, exit_fill("sell", "0.5", "110", tag=ProtectiveKind.TP, tp_level=0)).position
    pos = apply_fill(pos, exit_fill("sell", "0.25", "110", tag=ProtectiveKind.TP, tp_level=0)).position
    assert pos.tp_filled == {0: D("0.75")}


def test_oversized_opposite_fill_in_one_way_mode_flips_the_position() -> None:
    pos = opened(qty="1", price="100", prot=protection(sl="80"))
    result = apply_fill(pos, fill("sell", "3", "110", fee="0.3"))
    assert result.closed is not None and result.closed.status is S.CLOSED
    assert result.closed.realised_pnl == D("9.9")  # +10 minus a third of the fee
    new = result.position
    assert (new.side, new.quantity, new.entry_price, new.status) == (PositionSide.SHORT, D(2), D(110), S.OPEN)
    assert new.realised_pnl == D("-0.2") and new.position_id != pos.position_id
    assert new.protection == pos.protection and new.strategy_id == pos.strategy_id
    assert kinds(result) == [K.CLOSED, K.STATUS_CHANGED, K.OPENED]


@pytest.mark.parametrize("hedge", [False, True])
def test_oversized_reduce_only_or_hedge_fill_is_refused(hedge: bool) -> None:
    side = PositionSide.LONG if hedge else None
    pos = apply_fill(None, fill("buy", "1", "100", position_side=side)).position
    bad = fill("sell", "2", "100", reduce_only=not hedge, position_side=side)
    with pytest.raises(FoldError, match="exceeds"):
        apply_fill(pos, bad)


def test_reduce_only_fill_without_open_position_is_refused() -> None:
    with pytest.raises(FoldError, match="not open"):
        apply_fill(None, exit_fill("sell", "1", "100"))


def test_fill_of_another_slot_is_refused() -> None:
    with pytest.raises(FoldError, match="is for"):
        apply_fill(opened(), fill("buy", "1", "100", symbol="BTC/USDT:USDT"))


def test_hedge_sell_cannot_open_a_long_slot() -> None:
    with pytest.raises(FoldError, match="cannot open"):
        apply_fill(None, fill("sell", "1", "100", position_side=PositionSide.LONG))


def test_hedge_mode_keys_long_and_short_separately() -> None:
    long = apply_fill(None, fill("buy", "1", "100", position_side=PositionSide.LONG)).position
    short = apply_fill(None, fill("sell", "1", "100", position_side=PositionSide.SHORT)).position
    assert long.key != short.key and long.position_id != short.position_id


def test_fill_after_close_opens_a_new_position_with_a_new_id() -> None:
    pos = apply_fill(opened(), exit_fill("sell", "1", "100")).position
    again = apply_fill(pos, fill("buy", "1", "100"))
    assert again.position.position_id != pos.position_id and [e.kind for e in again.events] == [K.OPENED]


def test_replayed_fills_give_identical_ids_and_events() -> None:
    fills = [fill("buy", "1", "100", trade="a"), exit_fill("sell", "1", "101", trade="b")]

    def run() -> list[object]:
        pos: Position | None = None
        out: list[object] = []
        for f in fills:
            r = apply_fill(pos, f)
            pos = r.position
            out.extend(r.events)
        return out

    assert run() == run()


def test_adopt_makes_an_unmanaged_open_position_and_an_opened_event() -> None:
    key = PositionKey(account=ACCOUNT, venue=VENUE, symbol=SYMBOL)
    result = adopt(key, PositionSide.SHORT, D(3), D(50), at(0), protect=True)
    assert not result.position.managed and result.position.status is S.OPEN
    assert result.events[0].kind is K.OPENED and result.events[0].managed is False
    with pytest.raises(FoldError):
        adopt(key, PositionSide.SHORT, D(0), D(50), at(0), protect=True)


STATUSES: list[PositionStatus | None] = [None, *PositionStatus]


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("effect", list(Effect))
def test_transition_table_every_status_times_every_effect(status: PositionStatus | None, effect: Effect) -> None:
    opening = effect in (Effect.OPEN_PARTIAL, Effect.OPEN_COMPLETE)
    allowed = (status is None) == opening and status is not S.CLOSED
    if not allowed:
        assert (status, effect) not in TRANSITIONS
        with pytest.raises(FoldError):
            next_status(status, effect)
        return
    expected = {
        Effect.OPEN_PARTIAL: S.OPENING,
        Effect.OPEN_COMPLETE: S.OPEN,
        Effect.INCREASE_PARTIAL: S.OPENING if status is S.OPENING else S.OPEN,
        Effect.INCREASE_COMPLETE: S.OPEN,
        Effect.REDUCE: S.PARTIALLY_CLOSED,
        Effect.CLOSE: S.CLOSED,
    }[effect]
    assert next_status(status, effect) is expected
