"""The reconcile plan a sync executes: diagnostics in, ordered actions out.

Why the plan is a value and not a sequence of venue calls: it is tested exhaustively without
a venue, a repeated sync plans the same command ids (so the executor dedupes it), and the
safety ordering is visible in the data:

1. ``cleanup``: cancels (leftovers of a closed position, extra or wrong TPs, duplicate SLs);
   always safe, executed first;
2. ``tp``: TP places and amends; executed and persisted;
3. ``sl``: the stop side (SL place/amend, native trailing order), released only when the
   venue checks say the position is still open, no TP has filled since step 2 and the
   closable quantity covers the stop; otherwise ``sl_blocked`` names the failing check and
   ``safety`` asks for a re-read of the position (never a retry loop);
4. ``safety``: re-reads, alerts, and the fallback (alert + close at market) when placement
   keeps failing or the price is already beyond the stop.

A sync (``kairos.positions.sync.decide``) calls ``plan`` once without checks (cleanup + TP) and,
when no TP is being placed, again with ``VenueChecks`` to release the SL step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from kairos.positions import actions as act
from kairos.positions.actions import Action, ActionKind
from kairos.positions.diagnostics import Diagnostics, LevelState, derive
from kairos.positions.model import (
    Position,
    PositionSide,
    ProtectiveKind,
    ProtectiveOrder,
    TrailState,
    VenueRules,
)
from kairos.positions.trailing import tighter


class SlBlock(StrEnum):
    NOT_CHECKED = "not_checked"  # no venue checks given yet: run them, then plan again
    POSITION_NOT_OPEN = "position_not_open"
    TP_FILLED = "tp_filled"
    NO_CLOSABLE_QUANTITY = "no_closable_quantity"
    STALE_QUANTITY = "stale_quantity"  # the venue holds less than we think: re-read first


class Rejection(StrEnum):
    REDUCE_ONLY = "reduce_only"  # -2022: the position is not what we think
    WOULD_TRIGGER = "would_trigger"  # -2021: price already beyond the stop
    INVALID_ORDER = "invalid_order"
    OTHER = "other"


class Fallback(StrEnum):
    CLOSE_AT_MARKET = "close_at_market"
    ALERT_ONLY = "alert_only"


@dataclass(frozen=True, slots=True)
class VenueChecks:
    """What the adapter read at the venue between the TP and the SL step."""

    position_open: bool
    tp_filled: bool
    closable_quantity: Decimal


@dataclass(frozen=True, slots=True)
class PlacementFailure:
    """Consecutive failed placements of one protective kind, with the last reason."""

    kind: ProtectiveKind
    reason: Rejection
    count: int


@dataclass(frozen=True, slots=True)
class PlanConfig:
    max_failed_placements: int = 3
    fallback: Fallback = Fallback.CLOSE_AT_MARKET


@dataclass(frozen=True, slots=True)
class Plan:
    position_id: str
    diagnostics: Diagnostics
    cleanup: tuple[Action, ...] = ()
    tp: tuple[Action, ...] = ()
    sl: tuple[Action, ...] = ()
    safety: tuple[Action, ...] = ()
    sl_blocked: SlBlock | None = None
    sl_deferred: tuple[Action, ...] = ()  # what the SL step will do once the checks pass
    trail_state: TrailState | None = None  # persist this (emulated trail) after executing

    @property
    def actions(self) -> tuple[Action, ...]:
        """Everything executable now, in execution order."""
        return self.cleanup + self.tp + self.sl + self.safety

    @property
    def noop(self) -> bool:
        return not self.actions and not self.sl_deferred


def plan(
    position: Position,
    orders: Sequence[ProtectiveOrder],
    rules: VenueRules,
    *,
    mark: Decimal | None = None,
    checks: VenueChecks | None = None,
    failures: Sequence[PlacementFailure] = (),
    config: PlanConfig = PlanConfig(),
    diagnostics: Diagnostics | None = None,
) -> Plan:
    """Plan one sync of ``position`` against its protective ``orders`` (any states).

    ``mark`` drives the emulated trail and the "already beyond the stop" check; ``failures``
    are the recent failed placements the executor reported for this position. ``diagnostics``:
    ``derive(position, orders, rules, mark)`` when the caller has it already (derived once per sync).
    """
    d = derive(position, orders, rules, mark) if diagnostics is None else diagnostics
    pid = position.position_id
    if not d.needs_protection:
        cleanup = tuple(act.cancel(pid, o, reason="position closed")
                        for o in d.leftovers)
        return Plan(position_id=pid, diagnostics=d, cleanup=cleanup)
    cleanup = _cleanup(position, d)
    if any(f.reason is Rejection.REDUCE_ONLY for f in failures):
        reason = "reduce-only rejection (-2022): the venue position differs from ours"
        return Plan(position_id=pid, diagnostics=d, cleanup=cleanup,
                    safety=(act.reread(pid, position.revision, reason=reason),), trail_state=d.targets.trail_state)
    safety = _safety(position, d, mark, failures, config)
    if any(a.kind is ActionKind.CLOSE_AT_MARKET for a in safety):
        return Plan(position_id=pid, diagnostics=d, cleanup=cleanup, safety=safety, trail_state=d.targets.trail_state)
    tp_failed = _failed(failures, ProtectiveKind.TP, config)
    tp = () if tp_failed else _tp_step(position, d, orders, mark)
    sl = _sl_step(position, d, orders)
    blocked = _blocked(d, checks) if sl else None
    if blocked is not None and blocked is not SlBlock.NOT_CHECKED:
        safety += (act.reread(pid, position.revision, reason=f"SL step blocked: {blocked.value}"),)
    return Plan(
        position_id=pid,
        diagnostics=d,
        cleanup=cleanup,
        tp=tp,
        sl=() if blocked else sl,
        safety=safety,
        sl_blocked=blocked,
        sl_deferred=sl if blocked else (),
        trail_state=d.targets.trail_state,
    )


def _blocked(d: Diagnostics, checks: VenueChecks | None) -> SlBlock | None:
    if checks is None:
        return SlBlock.NOT_CHECKED
    if not checks.position_open:
        return SlBlock.POSITION_NOT_OPEN
    if checks.tp_filled:
        return SlBlock.TP_FILLED
    if checks.closable_quantity <= 0:
        return SlBlock.NO_CLOSABLE_QUANTITY
    if checks.closable_quantity < d.targets.remaining:
        return SlBlock.STALE_QUANTITY
    return None


def _failed(failures: Sequence[PlacementFailure], kind: ProtectiveKind, config: PlanConfig) -> bool:
    return any(f.kind is kind and f.count >= config.max_failed_placements for f in failures)


def _beyond(side: PositionSide, mark: Decimal, stop: Decimal) -> bool:
    return mark <= stop if side is PositionSide.LONG else mark >= stop


def _past_tp(side: PositionSide, mark: Decimal, price: Decimal) -> bool:
    return mark >= price if side is PositionSide.LONG else mark <= price


def _safety(
    position: Position,
    d: Diagnostics,
    mark: Decimal | None,
    failures: Sequence[PlacementFailure],
    config: PlanConfig,
) -> tuple[Action, ...]:
    """Fallbacks: the stop cannot be placed (keeps failing, or the price is past it already)."""
    pid, rev, stop = position.position_id, position.revision, d.targets.stop
    exit_side, qty = position.side.exit_side, d.targets.remaining
    if stop is not None and mark is not None and _beyond(position.side, mark, stop.price):
        if stop.trailing:  # the emulated trail has triggered: exiting is the plan, not an incident
            return (act.close_at_market(pid, exit_side, qty, rev, reason="emulated trailing stop triggered"),)
        if not any(o.resting for o in d.sl_orders):
            return _fallback(position, qty, config, "PRICE_BEYOND_STOP", f"mark {mark} beyond stop {stop.price}")
    stop_failures = [f for f in failures if f.kind is not ProtectiveKind.TP]
    if any(f.reason is Rejection.WOULD_TRIGGER for f in stop_failures):
        return _fallback(position, qty, config, "PRICE_BEYOND_STOP", "stop rejected: would trigger immediately")
    if any(f.count >= config.max_failed_placements for f in stop_failures):
        return _fallback(position, qty, config, "STOP_PLACEMENT_FAILING", "stop placement keeps failing")
    if _failed(failures, ProtectiveKind.TP, config):
        return (act.alert(pid, rev, "TP_PLACEMENT_FAILING", reason="take-profit placement keeps failing"),)
    return ()


def _fallback(position: Position, qty: Decimal, config: PlanConfig, code: str, why: str) -> tuple[Action, ...]:
    pid, rev = position.position_id, position.revision
    alert = act.alert(pid, rev, code, reason=f"{why}; fallback {config.fallback.value}")
    if config.fallback is Fallback.ALERT_ONLY:
        return (alert,)
    return alert, act.close_at_market(pid, position.side.exit_side, qty, rev, reason=why)


def _used(orders: Sequence[ProtectiveOrder]) -> frozenset[str]:
    """Command ids of finished orders: never to be reused for a new placement."""
    return frozenset(o.command_id for o in orders if not o.active and o.command_id)


def _cleanup(position: Position, d: Diagnostics) -> tuple[Action, ...]:
    """Cancels: TPs nobody wants, TPs at a wrong price or duplicated, duplicate or unwanted stops."""
    pid = position.position_id
    out = [act.cancel(pid, o, reason="TP level not wanted")
           for o in d.tp_extra if not o.pending]
    for check in d.tp_levels:
        if check.state is LevelState.WRONG_PRICE:
            out.append(act.cancel(pid, check.orders[0],
                                  reason=f"TP {check.level} at {check.orders[0].price}, wanted {check.desired.price}"))
        elif check.state is LevelState.DUPLICATED:
            out.extend(act.cancel(pid, o,
                                  reason=f"duplicate TP {check.level}") for o in _extras(check.orders))
    if not any(o.pending for o in d.sl_orders):
        doomed = d.sl_orders if d.targets.stop is None else _extras(_by_tightness(position.side, d.sl_orders))
        out.extend(act.cancel(pid, o, reason="SL duplicated or not wanted")
                   for o in doomed)
    want = d.targets.trailing
    if not any(o.pending for o in d.trailing_orders):
        trails = _by_id(d.trailing_orders)
        doomed = trails if want is None or (trails[:1] and trails[0].callback_rate != want.callback_rate) \
            else _extras(trails)
        out.extend(act.cancel(pid, o,
                              reason="trailing stop duplicated, changed or not wanted") for o in doomed)
    return tuple(out)


def _by_id(orders: Sequence[ProtectiveOrder]) -> tuple[ProtectiveOrder, ...]:
    return tuple(sorted(orders, key=lambda o: o.client_order_id))


def _extras(orders: Sequence[ProtectiveOrder]) -> tuple[ProtectiveOrder, ...]:
    """All but the keeper (the first one)."""
    return tuple(orders[1:])


def _by_tightness(side: PositionSide, orders: Sequence[ProtectiveOrder]) -> list[ProtectiveOrder]:
    """Keeper first: the tightest stop (it loses least), ties broken by client id for determinism."""
    sign = -1 if side is PositionSide.LONG else 1
    return sorted(orders, key=lambda o: (sign * (o.price or 0), o.client_order_id))


def _tp_step(
    position: Position, d: Diagnostics, orders: Sequence[ProtectiveOrder], mark: Decimal | None
) -> tuple[Action, ...]:
    pid, side, rev = position.position_id, position.side.exit_side, position.revision
    amends: list[Action] = []
    places: list[Action] = []
    for check in d.tp_levels:
        want = check.desired
        if check.state is LevelState.WRONG_QUANTITY:
            amends.append(act.amend(pid, check.orders[0], want.quantity,
                                    want.price, revision=rev, reason=f"TP {check.level} resized"))
        elif check.state is LevelState.DUPLICATED:
            keep = check.orders[0]
            if keep.price != want.price or keep.open_quantity != want.quantity:
                amends.append(act.amend(pid, keep, want.quantity, want.price,
                                        revision=rev, reason=f"TP {check.level} kept, resized"))
        elif check.state in (LevelState.MISSING, LevelState.WRONG_PRICE):
            if mark is not None and _past_tp(position.side, mark, want.price):
                # Mark already past the TP: the venue would refuse (-2021); take the profit now.
                places.append(act.close_at_market(pid, side, want.quantity, position.revision, level=check.level,
                                                  reason=f"mark {mark} beyond TP {check.level} at {want.price}"))
                continue
            places.append(act.place(pid, ProtectiveKind.TP, side, want.quantity, want.price, level=check.level,
                                    used=_used(orders),
                                    reason=f"TP {check.level} {check.state.value}"))
    return tuple(amends + places)  # shrink before growing: reduce-only totals never exceed the position


def _sl_step(position: Position, d: Diagnostics, orders: Sequence[ProtectiveOrder]) -> tuple[Action, ...]:
    """Exactly one stop (moved, never duplicated, never loosened by a trail) and the native trail."""
    pid, side, out = position.position_id, position.side.exit_side, []
    stop = d.targets.stop
    if stop is not None and not any(o.pending for o in d.sl_orders):
        if not d.sl_orders:
            out.append(act.place(pid, ProtectiveKind.SL, side, stop.quantity, stop.price,
                                 used=_used(orders), reason="SL missing"))
        else:
            keep = _by_tightness(position.side, d.sl_orders)[0]
            price = stop.price
            if position.protection.trailing is not None and keep.price is not None:
                price = tighter(position.side, price, keep.price) or price  # a trail never loosens
            if keep.price != price or keep.open_quantity != stop.quantity:
                out.append(act.amend(pid, keep, stop.quantity, price,
                                     revision=position.revision, reason=f"SL moved to {price} x {stop.quantity}"))
    want = d.targets.trailing
    trails = _by_id(d.trailing_orders)
    if want is not None and not any(o.pending for o in trails):
        keep_t = trails[0] if trails else None
        if keep_t is None or keep_t.callback_rate != want.callback_rate:
            out.append(act.place(pid, ProtectiveKind.TRAILING, side, want.quantity, want.activation_price,
                                 callback_rate=want.callback_rate, used=_used(orders),
                                 reason="trailing stop missing" if keep_t is None else "trailing callback changed"))
        elif keep_t.open_quantity != want.quantity:
            out.append(act.amend(pid, keep_t, want.quantity, keep_t.price,
                                 revision=position.revision, reason="trailing stop resized"))
    return tuple(out)
