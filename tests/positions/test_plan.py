"""The reconcile plan: steps, safety ordering, idempotent ids, fallbacks, trails, convergence."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kairos.positions.actions import Action, ActionKind, Step
from kairos.positions.fold import apply_fill
from kairos.positions.model import OrderState, Position, ProtectiveKind, ProtectiveOrder, TrailingMode
from kairos.positions.plan import (
    Fallback,
    PlacementFailure,
    Plan,
    PlanConfig,
    Rejection,
    SlBlock,
    VenueChecks,
    plan,
)
from kairos_testkit.position_builders import RULES, D, exit_fill, fill, full_protection, opened, order, protection

ST = OrderState
OK = VenueChecks(position_open=True, tp_filled=False, closable_quantity=D(1))
TP, SL, TRAIL = ProtectiveKind.TP, ProtectiveKind.SL, ProtectiveKind.TRAILING


def summary(actions: tuple[Action, ...]) -> list[tuple[str, str | None, object, object, object]]:
    return [(a.kind.value, a.target.value if a.target else None, a.level, a.quantity, a.price) for a in actions]


def execute(book: list[ProtectiveOrder], p: Plan) -> list[ProtectiveOrder]:
    """A fake executor: applies the plan's order actions to an in-memory book (all confirmed)."""
    out = list(book)
    for a in p.actions:
        if a.kind is ActionKind.CANCEL:
            out = [o.model_copy(update={"status": ST.CANCELED}) if o.client_order_id == a.client_order_id else o
                   for o in out]
        elif a.kind is ActionKind.AMEND:
            out = [o.model_copy(update={"quantity": a.quantity, "price": a.price, "filled_quantity": D(0)})
                   if o.client_order_id == a.client_order_id else o for o in out]
        elif a.kind is ActionKind.PLACE:
            assert a.target is not None and a.quantity is not None
            out.append(ProtectiveOrder(kind=a.target, client_order_id=a.command_id, command_id=a.command_id,
                                       status=ST.OPEN, price=a.price, quantity=a.quantity, level=a.level,
                                       callback_rate=a.callback_rate))
    return out


def test_creation_without_checks_places_tps_and_defers_the_sl() -> None:
    pos = opened()
    p = plan(pos, [], RULES)
    assert p.diagnostics.phase.value == "creation"
    assert summary(p.tp) == [("place", "TP", 0, D("0.5"), D(110)), ("place", "TP", 1, D("0.5"), D(120))]
    assert p.sl == () and p.sl_blocked is SlBlock.NOT_CHECKED and p.safety == ()
    assert summary(p.sl_deferred) == [("place", "SL", None, D(1), D(90))]
    assert all(a.reduce_only and a.side is not None and a.side.value == "sell" for a in p.tp + p.sl_deferred)
    assert [a.order_type for a in p.tp + p.sl_deferred] == ["take_profit_market"] * 2 + ["stop_market"]


def test_second_step_with_passing_checks_releases_the_sl() -> None:
    pos = opened()
    first = plan(pos, [], RULES)
    book = execute([], first)
    second = plan(pos, book, RULES, checks=OK)
    assert second.tp == () and second.sl_blocked is None
    assert summary(second.sl) == summary(first.sl_deferred)
    assert second.sl[0].command_id == first.sl_deferred[0].command_id
    assert plan(pos, execute(book, second), RULES, checks=OK).noop


def test_repeated_sync_of_the_same_state_plans_the_same_command_ids() -> None:
    pos = opened()
    assert [a.command_id for a in plan(pos, [], RULES).tp] == [a.command_id for a in plan(pos, [], RULES).tp]
    ids = [a.command_id for a in plan(pos, [], RULES).tp + plan(pos, [], RULES).sl_deferred]
    assert len(set(ids)) == 3 and all(i.startswith("ps-") and len(i) <= 64 for i in ids)


def test_orders_with_unconfirmed_outcome_are_waited_for_not_duplicated() -> None:
    pos = opened()
    book = [order("TP", "110", "0.5", level=0, status=ST.SUBMITTED), order("TP", "120", "0.5", level=1,
            status=ST.UNKNOWN), order("SL", "90", "1", status=ST.NEW)]
    p = plan(pos, book, RULES, checks=OK)
    assert p.actions == () and p.sl_deferred == ()


@pytest.mark.parametrize(
    ("checks", "block"),
    [
        (VenueChecks(position_open=False, tp_filled=False, closable_quantity=D(0)), SlBlock.POSITION_NOT_OPEN),
        (VenueChecks(position_open=True, tp_filled=True, closable_quantity=D(1)), SlBlock.TP_FILLED),
        (VenueChecks(position_open=True, tp_filled=False, closable_quantity=D(0)), SlBlock.NO_CLOSABLE_QUANTITY),
        (VenueChecks(position_open=True, tp_filled=False, closable_quantity=D("0.5")), SlBlock.STALE_QUANTITY),
    ],
)
def test_failing_check_blocks_the_sl_and_asks_for_a_reread(checks: VenueChecks, block: SlBlock) -> None:
    pos = opened()
    book = full_protection(pos)[:2]
    p = plan(pos, book, RULES, checks=checks)
    assert p.sl == () and p.sl_blocked is block and len(p.sl_deferred) == 1
    assert [a.kind for a in p.safety] == [ActionKind.REREAD_POSITION]


def test_reduce_only_rejection_rereads_instead_of_retrying() -> None:
    pos = opened()
    p = plan(pos, [], RULES, checks=OK, failures=[PlacementFailure(SL, Rejection.REDUCE_ONLY, 1)])
    assert [a.kind for a in p.actions] == [ActionKind.REREAD_POSITION] and p.sl_deferred == ()


@pytest.mark.parametrize(
    ("failure", "fallback", "kinds"),
    [
        (PlacementFailure(SL, Rejection.INVALID_ORDER, 3), Fallback.CLOSE_AT_MARKET,
         [ActionKind.ALERT, ActionKind.CLOSE_AT_MARKET]),
        (PlacementFailure(SL, Rejection.WOULD_TRIGGER, 1), Fallback.CLOSE_AT_MARKET,
         [ActionKind.ALERT, ActionKind.CLOSE_AT_MARKET]),
        (PlacementFailure(TRAIL, Rejection.OTHER, 5), Fallback.ALERT_ONLY, [ActionKind.ALERT]),
    ],
)
def test_stop_placement_that_keeps_failing_triggers_the_fallback(
    failure: PlacementFailure, fallback: Fallback, kinds: list[ActionKind]
) -> None:
    pos = opened()
    p = plan(pos, [], RULES, checks=OK, failures=[failure], config=PlanConfig(fallback=fallback))
    assert [a.kind for a in p.safety] == kinds
    if ActionKind.CLOSE_AT_MARKET in kinds:  # closing instead of placing
        assert p.tp == () and p.sl == ()
        close = p.safety[-1]
        assert close.quantity == D(1) and close.order_type == "market" and close.reduce_only
    else:  # alert only: keep trying, the operator knows
        assert len(p.tp) == 2 and len(p.sl) == 1


def test_fewer_failures_than_the_limit_keep_trying() -> None:
    p = plan(opened(), [], RULES, checks=OK, failures=[PlacementFailure(SL, Rejection.INVALID_ORDER, 2)])
    assert p.safety == () and len(p.tp) == 2 and len(p.sl) == 1


def test_tp_placement_failing_alerts_but_still_places_the_stop() -> None:
    p = plan(opened(), [], RULES, checks=OK, failures=[PlacementFailure(TP, Rejection.INVALID_ORDER, 3)])
    assert p.tp == () and [a.kind for a in p.safety] == [ActionKind.ALERT] and len(p.sl) == 1


def test_mark_beyond_stop_without_resting_sl_closes_at_market() -> None:
    p = plan(opened(), full_protection(opened())[:2], RULES, mark=D(89), checks=OK)
    assert [a.kind for a in p.safety] == [ActionKind.ALERT, ActionKind.CLOSE_AT_MARKET]
    assert "PRICE_BEYOND_STOP" in p.safety[0].reason


def test_mark_beyond_stop_with_resting_sl_leaves_it_to_the_venue() -> None:
    pos = opened()
    assert plan(pos, full_protection(pos), RULES, mark=D(89), checks=OK).noop


def test_mark_past_a_missing_tp_takes_that_level_at_market() -> None:
    pos = opened()
    p = plan(pos, full_protection(pos)[1:], RULES, mark=D(111), checks=OK)
    assert summary(p.tp) == [("close_at_market", None, 0, D("0.5"), None)]


def test_partial_close_amends_tp_cancels_surplus_and_resizes_sl() -> None:
    full = opened()
    book = full_protection(full)
    pos = apply_fill(full, exit_fill("sell", "0.6", "105")).position
    p = plan(pos, book, RULES, checks=VenueChecks(position_open=True, tp_filled=False, closable_quantity=D("0.4")))
    assert summary(p.cleanup) == [("cancel", "TP", 1, None, None)]
    assert summary(p.tp) == [("amend", "TP", 0, D("0.4"), D(110))]
    assert summary(p.sl) == [("amend", "SL", None, D("0.4"), D(90))]
    assert p.actions == p.cleanup + p.tp + p.sl  # cancels, then TP, then the stop


def test_tp_fill_drops_its_level_and_resizes_the_sl() -> None:
    full = opened()
    pos = apply_fill(full, exit_fill("sell", "0.5", "110", tag=TP, tp_level=0)).position
    book = [o.model_copy(update={"status": ST.FILLED, "filled_quantity": o.quantity}) if o.level == 0 else o
            for o in full_protection(full)]
    p = plan(pos, book, RULES, checks=VenueChecks(position_open=True, tp_filled=False, closable_quantity=D("0.5")))
    assert p.cleanup == () and p.tp == () and summary(p.sl) == [("amend", "SL", None, D("0.5"), D(90))]


def test_full_close_cancels_every_leftover_and_nothing_else() -> None:
    full = opened()
    pos = apply_fill(full, exit_fill("sell", "1", "120", tag=TP, tp_level=1)).position
    p = plan(pos, full_protection(full), RULES)
    assert [a.kind for a in p.actions] == [ActionKind.CANCEL] * 3 and p.sl_blocked is None


def test_duplicate_stops_keep_the_tightest_and_cancel_the_rest() -> None:
    pos = opened()
    book = [*full_protection(pos)[:2], order("SL", "88", "1", cid="a"), order("SL", "89", "1", cid="b")]
    p = plan(pos, book, RULES, checks=OK)
    assert [a.client_order_id for a in p.cleanup] == ["a"]
    assert summary(p.sl) == [("amend", "SL", None, D(1), D(90))] and p.sl[0].client_order_id == "b"


def test_wrong_tp_price_is_cancelled_and_replaced() -> None:
    pos = opened()
    book = [order("TP", "111", "0.5", level=0, cid="old"), *full_protection(pos)[1:]]
    p = plan(pos, book, RULES, checks=OK)
    assert [a.client_order_id for a in p.cleanup] == ["old"]
    assert summary(p.tp) == [("place", "TP", 0, D("0.5"), D(110))]


def test_externally_cancelled_target_is_replaced_under_a_fresh_id() -> None:
    pos = opened()
    first = plan(pos, [], RULES).tp[0]
    gone = ProtectiveOrder(kind=TP, client_order_id="c1", command_id=first.command_id, status=ST.CANCELED,
                           price=D(110), quantity=D("0.5"), level=0)
    again = plan(pos, [gone], RULES).tp[0]
    assert again.kind is ActionKind.PLACE and again.command_id != first.command_id
    twice = gone.model_copy(update={"client_order_id": "c2", "command_id": again.command_id})
    third = plan(pos, [gone, twice], RULES).tp[0]
    assert third.command_id not in (first.command_id, again.command_id)


def test_placement_in_flight_is_planned_again_under_the_same_id() -> None:
    pos = opened()
    assert plan(pos, [], RULES).tp == plan(pos, [], RULES).tp


def test_stop_amended_then_cancelled_at_the_venue_is_replaced_under_a_fresh_id() -> None:
    pos = opened()
    placed = plan(pos, [], RULES, checks=OK).sl[0]
    moved = ProtectiveOrder(kind=SL, client_order_id="c", command_id=placed.command_id, status=ST.CANCELED,
                            price=D(95), quantity=D(1))  # amended to 95 by hand, then cancelled
    again = plan(pos, [*full_protection(pos)[:2], moved], RULES, checks=OK).sl[0]
    assert again.kind is ActionKind.PLACE and again.command_id != placed.command_id


def test_amends_back_and_forth_over_fills_get_new_ids_each_time() -> None:
    pos = opened(qty="1")
    book = full_protection(pos)
    ids = []
    for step in ("reduce", "increase", "reduce"):
        f = exit_fill("sell", "0.5", "101") if step == "reduce" else fill("buy", "0.5", "100")
        pos = apply_fill(pos, f).position
        checks = VenueChecks(position_open=True, tp_filled=False, closable_quantity=pos.quantity)
        p = plan(pos, book, RULES, checks=checks)
        sl_amend = next(a for a in p.sl if a.kind is ActionKind.AMEND)
        ids.append(sl_amend.command_id)
        book = execute(book, p)
    assert len(set(ids)) == 3


def test_emulated_trail_moves_the_stop_up_and_never_back() -> None:
    pos = opened(prot=protection(sl="90", trail=(None, "2", TrailingMode.EMULATED)))
    book = full_protection(pos)
    p = plan(pos, book, RULES, mark=D(110), checks=OK)
    assert summary(p.sl) == [("amend", "SL", None, D(1), D("107.80"))]
    pos = pos.model_copy(update={"trail": p.trail_state})
    book = execute(book, p)
    assert plan(pos, book, RULES, mark=D(108), checks=OK).noop
    lost_state = pos.model_copy(update={"trail": None})  # even if the trail state was lost: never loosen
    again = plan(lost_state, book, RULES, mark=D(100), checks=OK)
    assert again.sl == () and again.diagnostics.protected


def test_emulated_trail_crossed_closes_at_market_without_alert() -> None:
    pos = opened(prot=protection(sl="90", trail=(None, "2", TrailingMode.EMULATED)))
    pos = pos.model_copy(update={"trail": plan(pos, [], RULES, mark=D(110)).trail_state})
    p = plan(pos, full_protection(pos), RULES, mark=D("107.5"), checks=OK)
    assert [a.kind for a in p.actions] == [ActionKind.CLOSE_AT_MARKET]


def test_native_trailing_is_placed_resized_and_replaced_on_callback_change() -> None:
    pos = opened(prot=protection(trail=("105", "1", TrailingMode.NATIVE)))
    book = full_protection(pos)
    p = plan(pos, book, RULES, mark=D(101), checks=OK)
    assert summary(p.sl) == [("place", "TRAILING", None, D(1), D(105))]
    assert p.sl[0].callback_rate == D(1) and p.sl[0].order_type == "trailing_stop_market"
    resized = plan(pos, [*book, order("TRAILING", "105", "0.5", callback="1", cid="t")], RULES, checks=OK)
    assert summary(resized.sl) == [("amend", "TRAILING", None, D(1), D(105))]
    changed = plan(pos, [*book, order("TRAILING", "105", "1", callback="2", cid="t")], RULES, checks=OK)
    assert [a.client_order_id for a in changed.cleanup] == ["t"] and summary(changed.sl)[0][0] == "place"


def test_unmanaged_position_not_to_protect_plans_nothing() -> None:
    pos = opened().model_copy(update={"managed": False, "protect": False})
    assert plan(pos, [], RULES).noop


def test_steps_are_labelled_for_the_adapter() -> None:
    pos = opened()
    p = plan(pos, [order("TP", "111", "0.5", level=0)], RULES, checks=OK)
    assert {a.step for a in p.cleanup} == {Step.CLEANUP} and {a.step for a in p.tp} == {Step.TP}
    assert {a.step for a in p.sl} == {Step.SL}


# Convergence: whatever the book, executing the plan once leaves nothing to do, one stop at most.

book_entry = st.tuples(
    st.sampled_from(["TP0", "TP1", "TP9", "SL"]),
    st.sampled_from(["85", "90", "95", "110", "111", "120"]),
    st.sampled_from(["0.2", "0.5", "1"]),
    st.sampled_from([ST.OPEN, ST.PARTIALLY_FILLED, ST.CANCELED, ST.FILLED, ST.EXPIRED]),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(book_entry, max_size=6), st.sampled_from(["0", "0.3", "0.5", "0.9"]))
def test_plan_converges_in_one_round_and_never_duplicates_stops(
    entries: list[tuple[str, str, str, OrderState]], closed: str
) -> None:
    pos: Position = opened()
    if D(closed) > 0:
        pos = apply_fill(pos, exit_fill("sell", closed, "100")).position
    book = []
    for i, (what, price, qty, status) in enumerate(entries):
        kind, level = (SL, None) if what == "SL" else (TP, int(what[2:]))
        book.append(ProtectiveOrder(kind=kind, client_order_id=f"x{i}", command_id=f"cmd-x{i}", status=status,
                                    price=D(price), quantity=D(qty), level=level))
    checks = VenueChecks(position_open=True, tp_filled=False, closable_quantity=pos.quantity)
    first = plan(pos, book, RULES, checks=checks)
    after = execute(book, first)
    assert plan(pos, after, RULES, checks=checks).noop
    active_sl = [o for o in after if o.kind is SL and o.active]
    assert len(active_sl) == 1 and active_sl[0].quantity == pos.quantity
    active_tp = sum((o.open_quantity for o in after if o.kind is TP and o.active), Decimal(0))
    assert active_tp <= pos.quantity


def test_short_position_mirrors_the_long_plan() -> None:
    pos = opened("sell", "1", "100", prot=protection(tps=(("90", "0.5"), ("80", "0.5")), sl="110"))
    p = plan(pos, [], RULES)
    assert summary(p.tp) == [("place", "TP", 0, D("0.5"), D(90)), ("place", "TP", 1, D("0.5"), D(80))]
    assert summary(p.sl_deferred) == [("place", "SL", None, D(1), D(110))]
    assert all(a.side is not None and a.side.value == "buy" for a in p.tp + p.sl_deferred)
    tps = execute([], p)
    book = execute(tps, plan(pos, tps, RULES, checks=OK))
    assert plan(pos, book, RULES, checks=OK).noop and plan(pos, book, RULES, checks=OK).diagnostics.protected
    assert [a.kind for a in plan(pos, [], RULES, mark=D(111), checks=OK).safety] == [
        ActionKind.ALERT, ActionKind.CLOSE_AT_MARKET]
