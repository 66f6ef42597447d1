"""derive-sync: protection diagnostics and the phase, as tables over typical order books."""

from __future__ import annotations

import pytest
from kairos.positions.diagnostics import LevelState, Phase, derive
from kairos.positions.fold import apply_fill
from kairos.positions.model import OrderState, Position, ProtectiveOrder, TrailingMode
from kairos_testkit.position_builders import RULES, D, exit_fill, fill, full_protection, opened, order, protection

ST = OrderState


def long_1() -> Position:
    return opened(qty="1", price="100")


# (name, orders builder, phase, protected, stop_protected, missing levels, wrong levels)
CASES = [
    ("nothing", lambda p: [], Phase.CREATION, False, False, (0, 1), ()),
    ("only dead orders", lambda p: [order("SL", "90", "1", status=ST.CANCELED),
                                    order("TP", "110", "0.5", level=0, status=ST.REJECTED)],
     Phase.CREATION, False, False, (0, 1), ()),
    ("all correct", full_protection, Phase.ONGOING, True, True, (), ()),
    ("sl only", lambda p: [order("SL", "90", "1")], Phase.ONGOING, False, True, (0, 1), ()),
    ("tps only", lambda p: full_protection(p)[:2], Phase.ONGOING, False, False, (), ()),
    ("tp wrong price", lambda p: [order("TP", "111", "0.5", level=0), *full_protection(p)[1:]],
     Phase.ONGOING, False, True, (), (0,)),
    ("tp wrong size", lambda p: [order("TP", "110", "0.4", level=0), *full_protection(p)[1:]],
     Phase.PROMOTION, False, True, (), (0,)),
    ("tp duplicated", lambda p: [*full_protection(p), order("TP", "110", "0.5", level=0)],
     Phase.PROMOTION, False, True, (), (0,)),
    ("sl too small", lambda p: [*full_protection(p)[:2], order("SL", "90", "0.5")],
     Phase.PROMOTION, False, False, (), ()),
    ("sl duplicated", lambda p: [*full_protection(p), order("SL", "91", "1")],
     Phase.ONGOING, False, False, (), ()),
    ("sl wrong price", lambda p: [*full_protection(p)[:2], order("SL", "89", "1")],
     Phase.ONGOING, False, True, (), ()),
    ("sl pending", lambda p: [*full_protection(p)[:2], order("SL", "90", "1", status=ST.UNKNOWN)],
     Phase.ONGOING, False, False, (), ()),
    ("tp pending", lambda p: [order("TP", "110", "0.5", level=0, status=ST.SUBMITTED), *full_protection(p)[1:]],
     Phase.ONGOING, False, True, (), ()),
]


@pytest.mark.parametrize(("name", "build", "phase", "protected", "stop_ok", "missing", "wrong"), CASES,
                         ids=[c[0] for c in CASES])
def test_derive_long_position_against_order_books(
    name: str, build, phase: Phase, protected: bool, stop_ok: bool,  # type: ignore[no-untyped-def]
    missing: tuple[int, ...], wrong: tuple[int, ...],
) -> None:
    pos = long_1()
    d = derive(pos, build(pos), RULES)
    assert (d.phase, d.protected, d.stop_protected) == (phase, protected, stop_ok)
    assert d.tp_missing == missing and d.tp_wrong == wrong
    assert d.needs_protection and d.leftovers == ()


def test_derive_flags_sl_duplication_and_pending() -> None:
    pos = long_1()
    d = derive(pos, [*full_protection(pos), order("SL", "91", "1", status=ST.NEW)], RULES)
    assert d.sl_duplicated and d.sl_present and d.pending and not d.sl_covers


def test_entry_still_filling_with_protection_is_promotion() -> None:
    pos = apply_fill(None, fill("buy", "1", "100", order_remaining="1")).position
    pos = pos.with_protection(protection())
    assert derive(pos, full_protection(pos), RULES).phase is Phase.PROMOTION


def test_partial_close_makes_old_protection_promotion_with_tp_over() -> None:
    pos = apply_fill(long_1(), exit_fill("sell", "0.6", "105")).position
    d = derive(pos, full_protection(long_1()), RULES)
    assert d.phase is Phase.PROMOTION and d.tp_over and not d.protected
    assert d.tp_quantity == D(1) and d.targets.remaining == D("0.4")
    assert [c.state for c in d.tp_levels] == [LevelState.WRONG_QUANTITY]
    assert [o.level for o in d.tp_extra] == [1]


def test_closed_position_reports_active_orders_as_leftovers() -> None:
    pos = apply_fill(long_1(), exit_fill("sell", "1", "90")).position
    dead = order("TP", "120", "0.5", level=1, status=ST.CANCELED)
    d = derive(pos, [*full_protection(long_1())[:2], dead], RULES)
    assert not d.needs_protection and d.phase is Phase.ONGOING and len(d.leftovers) == 2


def test_unprotected_by_config_leaves_orders_alone() -> None:
    pos = long_1().model_copy(update={"protect": False})
    d = derive(pos, full_protection(pos), RULES)
    assert not d.needs_protection and d.leftovers == ()


@pytest.mark.parametrize(
    ("trail_orders", "ok", "phase"),
    [
        ([], False, Phase.ONGOING),
        ([("1", "1")], True, Phase.ONGOING),
        ([("1", "0.5")], False, Phase.PROMOTION),
        ([("2", "1")], False, Phase.ONGOING),
        ([("1", "1"), ("1", "1")], False, Phase.ONGOING),
    ],
)
def test_native_trailing_order_checked_for_callback_size_and_uniqueness(
    trail_orders: list[tuple[str, str]], ok: bool, phase: Phase
) -> None:
    pos = opened(prot=protection(trail=("105", "1", TrailingMode.NATIVE)))
    book = full_protection(pos) + [order("TRAILING", "105", q, callback=cb) for cb, q in trail_orders]
    d = derive(pos, book, RULES, mark=D(101))
    assert d.trailing_ok is ok and d.phase is phase and d.stop_protected is ok


def test_sl_partially_filled_open_quantity_counts_not_the_original() -> None:
    pos = long_1()
    book = [*full_protection(pos)[:2], order("SL", "90", "1", filled="0.5", status=ST.PARTIALLY_FILLED)]
    assert not derive(pos, book, RULES).sl_covers


def test_orders_passed_as_protective_views_are_not_mutated() -> None:
    pos = long_1()
    book: list[ProtectiveOrder] = full_protection(pos)
    before = list(book)
    derive(pos, book, RULES)
    assert book == before
