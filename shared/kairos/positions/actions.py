"""What a sync plans to do, as values: actions with deterministic command ids.

An action becomes one ``cmd.*`` command to the executor (place -> ``cmd.execute_trade``,
amend -> ``cmd.amend_order``, cancel -> ``cmd.cancel_order``, close -> a reduce-only market
``cmd.execute_trade``) or one local effect (re-read the position, raise an alert). Its
``command_id`` is a hash of (position, action, target state): planning the same state twice
yields the same ids, so the executor's dedupe turns a repeated sync into a no-op.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kairos.positions.ids import stable_id
from kairos.positions.model import OrderSide, Position, ProtectiveKind, ProtectiveOrder


class ActionKind(StrEnum):
    PLACE = "place"
    AMEND = "amend"
    CANCEL = "cancel"
    CLOSE_AT_MARKET = "close_at_market"
    REREAD_POSITION = "reread_position"
    ALERT = "alert"


class Step(StrEnum):
    """The safety ordering: cancels first, then TP (persisted), then the checked SL step."""

    CLEANUP = "cleanup"
    TP = "tp"
    SL = "sl"
    SAFETY = "safety"  # re-reads, alerts and fallbacks


ORDER_TYPES = {
    ProtectiveKind.TP: "take_profit_market",
    ProtectiveKind.SL: "stop_market",
    ProtectiveKind.TRAILING: "trailing_stop_market",
}


@dataclass(frozen=True, slots=True)
class Action:
    """One thing to do. Prices are on the tick grid and quantities on the step grid already."""

    command_id: str
    kind: ActionKind
    step: Step
    reason: str
    target: ProtectiveKind | None = None
    level: int | None = None
    side: OrderSide | None = None  # order side (the position's exit side)
    order_type: str | None = None  # cmd.execute_trade order_type for PLACE / CLOSE_AT_MARKET
    quantity: Decimal | None = None
    price: Decimal | None = None  # trigger (TP/SL) or activation price (trailing)
    callback_rate: Decimal | None = None
    client_order_id: str | None = None  # the order an AMEND or CANCEL addresses...
    target_command_id: str | None = None  # ...and the command that created it (what cmd.* names)
    reduce_only: bool = True


def _id(*parts: object) -> str:
    return stable_id(*parts, prefix="ps-", length=40)


def place(
    position_id: str,
    kind: ProtectiveKind,
    side: OrderSide,
    quantity: Decimal,
    price: Decimal | None,
    *,
    level: int | None = None,
    callback_rate: Decimal | None = None,
    used: Collection[str] = (),
    reason: str,
) -> Action:
    """``used``: command ids of this position's *finished* orders (cancelled, expired, rejected,
    filled). The id is the first of hash(target, attempt 0, 1, ...) not among them: a target
    whose order finished gets a fresh id (the executor would dedupe the old one), while a
    placement still in flight, whose order row is not visible yet, is planned under the same id
    again and deduped by the executor."""
    attempt = 0
    command_id = _id(position_id, "place", kind.value, level, price, quantity, callback_rate, attempt)
    while command_id in used:
        attempt += 1
        command_id = _id(position_id, "place", kind.value, level, price, quantity, callback_rate, attempt)
    return Action(
        command_id=command_id,
        kind=ActionKind.PLACE,
        step=Step.TP if kind is ProtectiveKind.TP else Step.SL,
        reason=reason,
        target=kind,
        level=level,
        side=side,
        order_type=ORDER_TYPES[kind],
        quantity=quantity,
        price=price,
        callback_rate=callback_rate,
    )


def amend(
    position_id: str,
    order: ProtectiveOrder,
    quantity: Decimal,
    price: Decimal | None,
    *,
    revision: int,
    reason: str,
) -> Action:
    """Keyed by the position revision too: sizes can go A -> B -> A -> B over fills, and each
    of those amends must be a new command; a repeated sync of one revision repeats the id."""
    return Action(
        command_id=_id(position_id, "amend", order.client_order_id, price, quantity, revision),
        kind=ActionKind.AMEND,
        step=Step.TP if order.kind is ProtectiveKind.TP else Step.SL,
        reason=reason,
        target=order.kind,
        level=order.level,
        quantity=quantity,
        price=price,
        client_order_id=order.client_order_id,
        target_command_id=order.command_id,
    )


def cancel(position_id: str, order: ProtectiveOrder, *, reason: str) -> Action:
    return Action(
        command_id=_id(position_id, "cancel", order.client_order_id),
        kind=ActionKind.CANCEL,
        step=Step.CLEANUP,
        reason=reason,
        target=order.kind,
        level=order.level,
        client_order_id=order.client_order_id,
        target_command_id=order.command_id,
    )


def close_at_market(
    position_id: str, side: OrderSide, quantity: Decimal, revision: int, *, reason: str, level: int | None = None
) -> Action:
    """Reduce-only market exit; keyed by the position revision so one state closes once."""
    return Action(
        command_id=_id(position_id, "close", level, quantity, revision),
        kind=ActionKind.CLOSE_AT_MARKET,
        step=Step.SAFETY,
        reason=reason,
        level=level,
        side=side,
        order_type="market",
        quantity=quantity,
    )


def reread(position_id: str, revision: int, *, reason: str) -> Action:
    return Action(command_id=_id(position_id, "reread", revision), kind=ActionKind.REREAD_POSITION,
                  step=Step.SAFETY, reason=reason)


def alert(position_id: str, revision: int, code: str, *, reason: str) -> Action:
    return Action(command_id=_id(position_id, "alert", code, revision), kind=ActionKind.ALERT,
                  step=Step.SAFETY, reason=f"{code}: {reason}")


def execute_trade_fields(action: Action, position: Position) -> dict[str, Any]:
    """The ``cmd.execute_trade`` payload of a PLACE or CLOSE_AT_MARKET action.

    Matches ``ExecuteTrade`` (trailing orders carry ``callback_rate`` and ``activation_price``);
    a hedge-mode position adds ``position_side``, which that contract does not carry yet.
    Raises ValueError for actions that are not a new order (amend, cancel, re-read, alert).
    """
    if action.kind not in (ActionKind.PLACE, ActionKind.CLOSE_AT_MARKET) or action.side is None:
        raise ValueError(f"{action.kind} is not a new order")
    key = position.key
    fields: dict[str, Any] = {
        "command_id": action.command_id,
        "account": key.account,
        "venue": key.venue,
        "symbol": key.symbol,
        "side": action.side.value,
        "order_type": action.order_type,
        "quantity": action.quantity,
        "reduce_only": True,
        "strategy_id": position.strategy_id or "position-sync",
        "intent": "protective" if action.kind is ActionKind.PLACE else "exit",
        "client_tag": client_tag(position.position_id, action),
    }
    if key.hedge_side is not None:  # hedge mode: the venue needs to know which side's position
        fields["position_side"] = key.hedge_side.value
    if action.target is ProtectiveKind.TRAILING:
        fields["callback_rate"] = action.callback_rate
        fields["activation_price"] = action.price
    elif action.kind is ActionKind.PLACE:
        fields["stop_price"] = action.price
    return fields


def client_tag(position_id: str, action: Action) -> str:
    """``ExecuteTrade.client_tag``: which position, kind and TP level an order is for, so the
    integration can link the execution service's orders back to protection (<= 64 chars)."""
    kind = action.target.value if action.target is not None else "EXIT"
    level = "" if action.level is None else str(action.level)
    return f"{position_id}:{kind}:{level}"


def cancel_order_fields(action: Action, position: Position) -> dict[str, Any]:
    """The ``cmd.cancel_order`` payload of a CANCEL action (the order is named by the command
    that created it). Raises ValueError for any other action."""
    if action.kind is not ActionKind.CANCEL or action.target_command_id is None:
        raise ValueError(f"{action.kind} is not a cancel of a known order")
    key = position.key
    return {
        "command_id": action.command_id,
        "target_command_id": action.target_command_id,
        "account": key.account,
        "venue": key.venue,
        "symbol": key.symbol,
        "strategy_id": position.strategy_id or "position-sync",
        "reason": action.reason,
    }


def amend_order_fields(action: Action, position: Position) -> dict[str, Any]:
    """The ``cmd.amend_order`` payload of an AMEND action: new quantity, and the new trigger
    for TP/SL (a trailing order's activation is not amended). Raises ValueError otherwise."""
    if action.kind is not ActionKind.AMEND or action.target_command_id is None:
        raise ValueError(f"{action.kind} is not an amend of a known order")
    key = position.key
    fields: dict[str, Any] = {
        "command_id": action.command_id,
        "target_command_id": action.target_command_id,
        "account": key.account,
        "venue": key.venue,
        "symbol": key.symbol,
        "strategy_id": position.strategy_id or "position-sync",
        "quantity": action.quantity,
    }
    if action.target is not ProtectiveKind.TRAILING:
        fields["stop_price"] = action.price
    return fields
