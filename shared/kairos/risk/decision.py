"""The risk decision itself, as a pure function of the numbers it reads.

Live (``kairos.risk.guardian``) and the backtest (``kairos.backtest``) decide an order intent
with the same code: each gathers the same numbers (the live guardian from Postgres under its
scope locks, the backtest from its simulated book) and calls :func:`decide`. Nothing here
reads a clock, a database or the environment; the caller records the outcome.

The order of the checks is part of the rule, because the first failing one names the reason:
quantity rounding, then the hard failures (account, executor state, clock, strategy stop,
price known and fresh, kill switches), then per scope (global, account, strategy) the
order-size, exposure, open-position and order-rate limits against the state *after* this
order, then that scope's daily loss. A value equal to its limit passes; above it rejects.
Reaching the daily-loss limit is the breach (and the caller engages the scope's kill switch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from kairos.risk import codes

Scope = tuple[str, str]  # (kind, id), as kairos.risk.limits.Scope
ALERT_AT = Decimal("0.8")
_STATEFUL = ("max_symbol_exposure", "max_total_exposure", "max_open_positions", "max_orders_per_minute")


@dataclass(frozen=True)
class Hard:
    """The hard-failure inputs; a field left ``None`` is a check that does not apply (the backtest
    has no executor recovery, no clock drift and no price age: its price is the candle's)."""

    account: str = ""  # names in the messages
    venue: str = ""
    symbol: str = ""
    account_known: bool = True
    executor_state: str | None = None  # problem text: "unknown" / "<function> since ..." (RECOVERING)
    executor_unknown: bool = False
    clock_block: str | None = None
    strategy_stop: str | None = None
    price: Decimal | None = None
    price_age_s: Decimal | None = None  # None: age not checked
    price_max_age_s: Decimal | None = None
    kill_switch: tuple[str, str, str] | None = None  # (kind, id, reason)


@dataclass(frozen=True)
class ScopeState:
    """One scope's numbers before this order. ``None`` where the caller did not gather it (no
    limit of the scope reads it); ``missing_marks`` names held symbols that cannot be valued."""

    symbol_exposure: Decimal | None = None
    total_exposure: Decimal | None = None
    open_positions: int | None = None  # positions held + reserved opens
    orders_last_minute: int | None = None
    daily_loss: Decimal | None = None  # max(0, -daily PnL since 00:00 UTC)
    missing_marks: Sequence[str] = ()
    daily_missing_marks: Sequence[str] = ()


@dataclass
class Verdict:
    approved: bool
    quantity: Decimal
    code: str | None = None
    message: str = ""
    scope: Scope | None = None
    observed: Decimal | None = None
    limit: Decimal | None = None
    #: the numbers the decision read (recorded with it, on the wire as strings)
    values: dict[str, Any] = field(default_factory=dict)
    #: (scope, limit name, value after, limit) of limits at >= 80 %
    near: list[tuple[Scope, str, Decimal, Decimal]] = field(default_factory=list)
    #: the daily-loss breach to engage a kill switch for: (scope, loss, limit)
    breach: tuple[Scope, Decimal, Decimal] | None = None


class _Reject(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        scope: Scope | None = None,
        observed: Decimal | None = None,
        limit: Decimal | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.scope, self.observed, self.limit = code, message, scope, observed, limit


def lot(quantity: Decimal, step: Decimal | None) -> Decimal:
    """A quantity rounded down to the market's step (unknown step: unchanged)."""
    if step is None or step <= 0:
        return quantity
    return (quantity / step).to_integral_value(ROUND_DOWN) * step


def needs_state(mine: Mapping[str, Decimal]) -> bool:
    """Whether a scope's limits read its book (exposure, positions, order rate)."""
    return any(n in mine for n in _STATEFUL)


def decide(
    *,
    increases: bool,
    requested: Decimal,
    quantity: Decimal,
    min_qty: Decimal,
    hard: Hard | None,
    opens: bool,
    scopes: Sequence[Scope],
    limits: Mapping[Scope, Mapping[str, Decimal]],
    states: Mapping[Scope, ScopeState],
) -> Verdict:
    """Approve (with the lot-rounded quantity) or reject (reason code, scope, the number and the
    limit) one intent. ``quantity`` is ``requested`` already rounded down to the market's step.
    An intent that does not increase risk is approved as asked: nothing blocks closing risk.
    ``hard`` None: only the quantity rounding (a caller deciding in steps, reading more only when
    the cheaper checks pass)."""
    v = Verdict(approved=True, quantity=quantity)
    try:
        if quantity <= 0 or quantity < min_qty:
            if increases:
                raise _Reject(
                    codes.QUANTITY_BELOW_LOT,
                    f"quantity {requested} rounds down to {quantity} at the market's step, below its minimum {min_qty}",
                    observed=quantity,
                    limit=min_qty,
                )
            v.quantity = requested  # an exit is sent as asked: the venue closes what it can
        v.values["lot_quantity"] = v.quantity
        if not increases or hard is None:
            return v
        price = _hard(hard, v)
        _limits(v, price, opens, scopes, limits, states)
    except _Reject as r:
        v.approved, v.code, v.message = False, r.code, r.message
        v.scope, v.observed, v.limit = r.scope, r.observed, r.limit
    return v


def _hard(h: Hard, v: Verdict) -> Decimal:
    if not h.account_known:
        raise _Reject(codes.ACCOUNT_UNKNOWN, f"no LIVE or SHADOW account {h.account!r}")
    if h.executor_unknown:
        raise _Reject(codes.EXECUTOR_STATE_UNKNOWN, "no executor has reported its recovery state yet")
    if h.executor_state:
        raise _Reject(codes.EXECUTOR_RECOVERING, f"executor {h.executor_state} is RECOVERING")
    if h.clock_block:
        raise _Reject(codes.CLOCK_DRIFT, h.clock_block)
    if h.strategy_stop:
        raise _Reject(codes.STRATEGY_STOPPED, f"strategies stopped ({h.strategy_stop})")
    if h.price is None:
        raise _Reject(codes.PRICE_UNKNOWN, f"no mark price for {h.venue} {h.symbol}")
    v.values["mark_price"] = h.price
    if h.price_age_s is not None:
        v.values["mark_age_s"] = h.price_age_s
        if h.price_max_age_s is not None and h.price_age_s > h.price_max_age_s:
            raise _Reject(
                codes.PRICE_STALE,
                f"mark price of {h.symbol} is {float(h.price_age_s):.1f}s old (max {float(h.price_max_age_s):g}s)",
                observed=h.price_age_s,
                limit=h.price_max_age_s,
            )
    if h.kill_switch:
        kind, sid, reason = h.kill_switch
        raise _Reject(codes.KILL_SWITCH, f"kill switch {kind} {sid} engaged: {reason}", scope=(kind, sid))
    return h.price


def _limits(
    v: Verdict,
    price: Decimal,
    opens: bool,
    scopes: Sequence[Scope],
    limits: Mapping[Scope, Mapping[str, Decimal]],
    states: Mapping[Scope, ScopeState],
) -> None:
    qty = v.quantity
    notional = qty * price
    v.values.update(quantity=qty, notional=notional)
    for scope in scopes:
        mine = limits.get(scope)
        if not mine:
            continue
        prefix = scope[0]
        st = states.get(scope, ScopeState())
        checks: list[tuple[str, Decimal]] = []
        if "max_order_quantity" in mine:
            checks.append(("max_order_quantity", qty))
        if "max_order_notional" in mine:
            checks.append(("max_order_notional", notional))
        if needs_state(mine):
            if st.missing_marks:
                raise _Reject(
                    codes.PRICE_UNKNOWN,
                    f"no mark price for held symbols {', '.join(st.missing_marks)}: exposure unknown",
                )
            for name, before, add, key in (
                ("max_symbol_exposure", st.symbol_exposure, notional, "symbol_exposure"),
                ("max_total_exposure", st.total_exposure, notional, "total_exposure"),
                ("max_open_positions", st.open_positions, Decimal(1 if opens else 0), "open_positions"),
                ("max_orders_per_minute", st.orders_last_minute, Decimal(1), "orders_last_minute"),
            ):
                if name in mine:
                    after = Decimal(before or 0) + add
                    v.values[f"{prefix}_{key}"] = after
                    checks.append((name, after))
        for name, after in checks:
            limit = mine[name]
            if after > limit:
                raise _Reject(
                    codes.LIMIT_CODES[name],
                    f"{name} of {scope[0]} {scope[1]}: {after} after this order exceeds {limit}",
                    scope=scope,
                    observed=after,
                    limit=limit,
                )
            if limit > 0 and after >= limit * ALERT_AT:
                v.near.append((scope, name, after, limit))
        if "max_daily_loss" in mine:
            limit = mine["max_daily_loss"]
            if st.daily_missing_marks:
                raise _Reject(
                    codes.PRICE_UNKNOWN,
                    f"no mark price for held symbols {', '.join(st.daily_missing_marks)}: daily PnL unknown",
                    scope=scope,
                )
            loss = st.daily_loss or Decimal(0)
            v.values[f"{prefix}_daily_loss"] = loss
            if loss >= limit:
                v.breach = (scope, loss, limit)
                raise _Reject(
                    codes.MAX_DAILY_LOSS,
                    f"daily loss of {scope[0]} {scope[1]} is {loss}, limit {limit}: kill switch engaged",
                    scope=scope,
                    observed=loss,
                    limit=limit,
                )
            if limit > 0 and loss >= limit * ALERT_AT:
                v.near.append((scope, "max_daily_loss", loss, limit))
