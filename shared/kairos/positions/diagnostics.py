"""Derive-sync: what protection a position has, what it lacks, and its phase.

Pure: position + its protective orders (+ venue rules, + mark for trails) in, a
``Diagnostics`` value out. The orchestrator only reads ``phase`` to pick the adapter method;
the plan and the alerts read the details. The phases:

- ``creation``: an open position that should be protected and has no protective order at all;
- ``promotion``: protection exists but was sized for another quantity (the entry filled
  further, the position was scaled in or partly closed), or the entry is still filling;
- ``ongoing``: protection matches the size; maintain it, trail it. A closed position is
  ``ongoing`` too: maintenance then means cancelling whatever still rests.

An order in an unconfirmed state (NEW, SUBMITTED, UNKNOWN, CANCELING) counts as present: the
plan waits for it rather than placing a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from kairos.positions.model import ZERO, Position, PositionStatus, ProtectiveKind, ProtectiveOrder, VenueRules
from kairos.positions.targets import DesiredTp, Targets, compute
from kairos.positions.trailing import tighter


class Phase(StrEnum):
    CREATION = "creation"
    PROMOTION = "promotion"
    ONGOING = "ongoing"


class LevelState(StrEnum):
    OK = "ok"
    MISSING = "missing"
    WRONG_PRICE = "wrong_price"
    WRONG_QUANTITY = "wrong_quantity"
    DUPLICATED = "duplicated"
    PENDING = "pending"  # an order exists whose outcome is not confirmed: wait


@dataclass(frozen=True, slots=True)
class TpCheck:
    level: int
    desired: DesiredTp
    orders: tuple[ProtectiveOrder, ...]
    state: LevelState


@dataclass(frozen=True, slots=True)
class Diagnostics:
    phase: Phase
    targets: Targets
    needs_protection: bool  # open, size > 0, and the configuration says to protect it
    protected: bool  # every target present and resting with the right size and price
    stop_protected: bool  # the loss side alone is covered (what "unprotected" alerts look at)
    tp_levels: tuple[TpCheck, ...]
    tp_extra: tuple[ProtectiveOrder, ...]  # active TP orders no desired level claims
    tp_quantity: Decimal  # open quantity of active TP orders
    tp_over: bool  # TP orders would close more than the position holds
    sl_orders: tuple[ProtectiveOrder, ...]  # active SL orders
    sl_covers: bool  # exactly one SL, resting, for the whole remaining quantity
    sl_price_ok: bool
    trailing_orders: tuple[ProtectiveOrder, ...]
    trailing_ok: bool
    pending: bool  # some protective order's outcome is not confirmed
    leftovers: tuple[ProtectiveOrder, ...]  # active orders of a closed (or unprotected-by-config) position

    @property
    def sl_duplicated(self) -> bool:
        return len(self.sl_orders) > 1

    @property
    def sl_present(self) -> bool:
        return bool(self.sl_orders)

    @property
    def tp_missing(self) -> tuple[int, ...]:
        return tuple(c.level for c in self.tp_levels if c.state is LevelState.MISSING)

    @property
    def tp_wrong(self) -> tuple[int, ...]:
        wrong = (LevelState.WRONG_PRICE, LevelState.WRONG_QUANTITY, LevelState.DUPLICATED)
        return tuple(c.level for c in self.tp_levels if c.state in wrong)


def derive(
    position: Position, orders: Sequence[ProtectiveOrder], rules: VenueRules, mark: Decimal | None = None
) -> Diagnostics:
    """Diagnose ``position`` against its ``orders`` (any states; only active ones count)."""
    targets = compute(position, rules, mark)
    active = [o for o in orders if o.active]
    by_kind = {k: tuple(o for o in active if o.kind is k) for k in ProtectiveKind}
    needs = position.is_open and position.protect and targets.remaining > 0
    if not needs:
        # Orders of a closed (or dust-sized) position are leftovers to cancel; those of an open
        # position the configuration does not protect are left alone: nobody asked us to undo them.
        closed = not position.is_open or targets.remaining <= 0
        return _nothing_to_protect(targets, tuple(active), by_kind, leftovers=closed)
    checks, extra = _tp_checks(targets, by_kind[ProtectiveKind.TP])
    sls = by_kind[ProtectiveKind.SL]
    stop = targets.stop
    sl_covers = stop is None or (len(sls) == 1 and sls[0].resting and sls[0].open_quantity >= targets.remaining)
    sl_price_ok = stop is None or (len(sls) == 1 and _stop_price_ok(position, sls[0].price, stop.price))
    trails = by_kind[ProtectiveKind.TRAILING]
    want = targets.trailing
    trailing_ok = (not trails) if want is None else (
        len(trails) == 1
        and trails[0].resting
        and trails[0].open_quantity == want.quantity
        and trails[0].callback_rate == want.callback_rate
    )
    tp_qty = sum((o.open_quantity for o in by_kind[ProtectiveKind.TP]), ZERO)
    tp_ok = all(c.state is LevelState.OK for c in checks) and not extra
    stop_protected = sl_covers and (want is None or trailing_ok) and (stop is not None or want is not None)
    diagnostics = Diagnostics(
        phase=Phase.ONGOING,
        targets=targets,
        needs_protection=True,
        protected=stop_protected and sl_price_ok and tp_ok,
        stop_protected=stop_protected,
        tp_levels=checks,
        tp_extra=extra,
        tp_quantity=tp_qty,
        tp_over=tp_qty > targets.remaining,
        sl_orders=sls,
        sl_covers=sl_covers,
        sl_price_ok=sl_price_ok,
        trailing_orders=trails,
        trailing_ok=trailing_ok,
        pending=any(o.pending for o in active),
        leftovers=(),
    )
    return _with_phase(diagnostics, position, active)


def _stop_price_ok(position: Position, resting: Decimal | None, wanted: Decimal) -> bool:
    """Right price, or, with a trail configured, a tighter one: a trailed stop is never loosened."""
    if resting == wanted:
        return True
    return position.protection.trailing is not None and tighter(position.side, resting, wanted) == resting


def _with_phase(d: Diagnostics, position: Position, active: list[ProtectiveOrder]) -> Diagnostics:
    if not active:
        return replace(d, phase=Phase.CREATION)
    remaining = d.targets.remaining
    resized = (
        position.status is PositionStatus.OPENING
        or d.tp_over
        or any(c.state is LevelState.WRONG_QUANTITY for c in d.tp_levels)
        or any(o.open_quantity != remaining for o in d.sl_orders)
        or any(o.open_quantity != remaining for o in d.trailing_orders)
    )
    return replace(d, phase=Phase.PROMOTION) if resized else d


def _tp_checks(
    targets: Targets, tps: tuple[ProtectiveOrder, ...]
) -> tuple[tuple[TpCheck, ...], tuple[ProtectiveOrder, ...]]:
    wanted = {t.level: t for t in targets.tps}
    checks = []
    for level, desired in wanted.items():
        mine = tuple(sorted((o for o in tps if o.level == level), key=lambda o: o.client_order_id))
        checks.append(TpCheck(level=level, desired=desired, orders=mine, state=_level_state(desired, mine)))
    extra = tuple(o for o in tps if o.level not in wanted)
    return tuple(checks), extra


def _level_state(desired: DesiredTp, orders: tuple[ProtectiveOrder, ...]) -> LevelState:
    if not orders:
        return LevelState.MISSING
    if any(o.pending for o in orders):
        return LevelState.PENDING
    if len(orders) > 1:
        return LevelState.DUPLICATED
    order = orders[0]
    if order.price != desired.price:
        return LevelState.WRONG_PRICE
    if order.open_quantity != desired.quantity:
        return LevelState.WRONG_QUANTITY
    return LevelState.OK


def _nothing_to_protect(
    targets: Targets,
    active: tuple[ProtectiveOrder, ...],
    by_kind: dict[ProtectiveKind, tuple[ProtectiveOrder, ...]],
    *,
    leftovers: bool,
) -> Diagnostics:
    return Diagnostics(
        phase=Phase.ONGOING,
        targets=targets,
        needs_protection=False,
        protected=False,
        stop_protected=False,
        tp_levels=(),
        tp_extra=(),
        tp_quantity=sum((o.open_quantity for o in by_kind[ProtectiveKind.TP]), ZERO),
        tp_over=False,
        sl_orders=by_kind[ProtectiveKind.SL],
        sl_covers=False,
        sl_price_ok=False,
        trailing_orders=by_kind[ProtectiveKind.TRAILING],
        trailing_ok=False,
        pending=any(o.pending for o in active),
        leftovers=active if leftovers else (),
    )
