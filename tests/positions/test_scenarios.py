"""The issue's LIVE scenarios at the level of the pure core, with a fake executor.

The fake executor keeps the two promises issue 5 makes (a command id is executed at most
once; a lost response leaves the order UNKNOWN until reconciliation finds it) so these tests
check what the plan adds on top: convergence, no duplicates, the -2022 race, restarts.
The same scenarios run against the simulator in the integration.
"""

from __future__ import annotations

import random

import pytest
from kairos.positions.actions import ActionKind
from kairos.positions.diagnostics import derive
from kairos.positions.fold import apply_fill
from kairos.positions.model import OrderState, Position, ProtectiveKind, ProtectiveOrder
from kairos.positions.plan import SlBlock, VenueChecks, plan
from kairos_testkit.position_builders import RULES, D, exit_fill, opened, protection


class FakeExecutor:
    def __init__(self, drop_rate: float = 0.0, seed: int = 0) -> None:
        self.book: dict[str, ProtectiveOrder] = {}
        self.executed: set[str] = set()
        self.rnd = random.Random(seed)
        self.drop_rate = drop_rate

    def orders(self) -> list[ProtectiveOrder]:
        return list(self.book.values())

    def run(self, actions: tuple) -> None:  # type: ignore[type-arg]
        for a in actions:
            if a.command_id in self.executed:  # issue 5: one venue order per command id
                continue
            if self.rnd.random() < self.drop_rate:  # the request is lost before the venue: retried later
                continue
            self.executed.add(a.command_id)
            lost_response = self.rnd.random() < self.drop_rate
            if a.kind is ActionKind.PLACE:
                self.book[a.command_id] = ProtectiveOrder(
                    kind=a.target, client_order_id=a.command_id, command_id=a.command_id,
                    status=OrderState.UNKNOWN if lost_response else OrderState.OPEN,
                    price=a.price, quantity=a.quantity, level=a.level, callback_rate=a.callback_rate)
            elif a.kind is ActionKind.AMEND:
                o = self.book[a.client_order_id]
                self.book[o.client_order_id] = o.model_copy(update={"quantity": a.quantity, "price": a.price})
            elif a.kind is ActionKind.CANCEL:
                o = self.book[a.client_order_id]
                self.book[o.client_order_id] = o.model_copy(update={"status": OrderState.CANCELED})

    def reconcile(self) -> None:
        for cid, o in self.book.items():
            if o.status is OrderState.UNKNOWN:
                self.book[cid] = o.model_copy(update={"status": OrderState.OPEN})

    def active(self, kind: ProtectiveKind, level: int | None = None) -> list[ProtectiveOrder]:
        return [o for o in self.book.values() if o.kind is kind and o.active and (level is None or o.level == level)]


def live_sync(pos: Position, ex: FakeExecutor, checks: VenueChecks | None = None) -> None:
    """The LIVE adapter's sequence: cleanup + TP, venue checks, then the SL step."""
    first = plan(pos, ex.orders(), RULES)
    ex.run(first.cleanup + first.tp)
    checks = checks or VenueChecks(position_open=True, tp_filled=False, closable_quantity=pos.quantity)
    second = plan(pos, ex.orders(), RULES, checks=checks)
    ex.run(second.cleanup + second.tp + second.sl)


def assert_no_duplicates(ex: FakeExecutor) -> None:
    assert len(ex.active(ProtectiveKind.SL)) <= 1
    for level in (0, 1):
        assert len(ex.active(ProtectiveKind.TP, level)) <= 1


@pytest.mark.parametrize("seed", range(10))
def test_new_position_gets_tp_and_sl_despite_20_percent_lost_messages_without_duplicates(seed: int) -> None:
    pos, ex = opened(), FakeExecutor(drop_rate=0.2, seed=seed)
    for _ in range(12):
        live_sync(pos, ex)
        assert_no_duplicates(ex)
        ex.reconcile()
        if derive(pos, ex.orders(), RULES).protected:
            break
    assert derive(pos, ex.orders(), RULES).protected


def test_partial_tp_fill_resizes_sl_and_full_close_leaves_nothing_resting() -> None:
    pos, ex = opened(), FakeExecutor()
    live_sync(pos, ex)
    tp0 = ex.active(ProtectiveKind.TP, 0)[0]
    ex.book[tp0.client_order_id] = tp0.model_copy(update={"status": OrderState.FILLED, "filled_quantity": D("0.5")})
    pos = apply_fill(pos, exit_fill("sell", "0.5", "110", tag=ProtectiveKind.TP, tp_level=0)).position
    live_sync(pos, ex)
    (sl,) = ex.active(ProtectiveKind.SL)
    assert sl.quantity == D("0.5") and derive(pos, ex.orders(), RULES).protected
    pos = apply_fill(pos, exit_fill("sell", "0.5", "120", tag=ProtectiveKind.TP, tp_level=1)).position
    live_sync(pos, ex)
    assert [o for o in ex.orders() if o.active and o.kind is not ProtectiveKind.TP] == []
    ex.run(plan(pos, ex.orders(), RULES).actions)
    assert [o for o in ex.orders() if o.active] == []


def test_tp_filling_between_the_tp_and_sl_steps_sends_no_sl() -> None:
    pos, ex = opened(prot=protection(tps=(("110", "1"),))), FakeExecutor()
    first = plan(pos, ex.orders(), RULES)
    ex.run(first.cleanup + first.tp)
    race = VenueChecks(position_open=False, tp_filled=True, closable_quantity=D(0))  # the TP filled meanwhile
    second = plan(pos, ex.orders(), RULES, checks=race)
    assert second.sl == () and second.sl_blocked is SlBlock.POSITION_NOT_OPEN
    assert [a.kind for a in second.safety] == [ActionKind.REREAD_POSITION]
    ex.run(second.actions)
    assert ex.active(ProtectiveKind.SL) == []


def test_restart_mid_sync_of_200_positions_neither_loses_nor_duplicates_protection() -> None:
    positions = [opened(qty="1", price=str(100 + i), trade=f"open-{i}") for i in range(200)]
    executors = {p.position_id: FakeExecutor() for p in positions}
    for i, pos in enumerate(positions):  # the process dies after the TP step of some, before any step of others
        if i % 3:
            first = plan(pos, [], RULES)
            executors[pos.position_id].run(first.tp)
    for pos in positions:  # restarted process: the same pure plan from the persisted state
        ex = executors[pos.position_id]
        live_sync(pos, ex)
        live_sync(pos, ex)  # and a redelivered sync command
        assert_no_duplicates(ex)
        assert derive(pos, ex.orders(), RULES).protected
