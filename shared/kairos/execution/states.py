"""The order lifecycle as ONE table: (state, trigger) -> next state.

Nothing else in the code base decides whether an order may move; the database holds the
same table (migration 0003) and refuses any other move, so a bug in one layer cannot
silently apply an illegal transition. ``tests/execution/test_states.py`` checks both
layers for every state x every trigger.

Why the odd rows exist:

- ``UNKNOWN``: the request left us and no answer came back (timeout, reset, 5xx). The
  order may or may not exist at the venue; only asking the venue by client order id
  resolves it. It is never treated as failed.
- ``CANCELING -> OPEN`` (``ACCEPT``): the venue still shows the order open after a
  cancel we could not confirm; the venue is authoritative for status.
- ``PARTIALLY_FILLED -> PARTIALLY_FILLED``: more fills, same state; the event is still
  recorded so every fill has a transition row.
- ``LOSE``: the venue never had the order after several misses and a grace period; it is
  final as REJECTED (reason says lost) because nothing was ever executed.
"""

from __future__ import annotations

from enum import StrEnum

from kairos.contracts.execution import OrderState
from kairos.errors import PermanentError


class Trigger(StrEnum):
    SUBMIT = "SUBMIT"  # we are about to call the venue
    TIMEOUT = "TIMEOUT"  # the call's outcome is unknown
    ACCEPT = "ACCEPT"  # the venue has it, nothing filled (again)
    PARTIAL_FILL = "PARTIAL_FILL"
    FILL = "FILL"  # completely filled
    REQUEST_CANCEL = "REQUEST_CANCEL"
    CANCEL = "CANCEL"  # the venue canceled it
    REJECT = "REJECT"  # refused (by us before sending, or by the venue)
    EXPIRE = "EXPIRE"
    LOSE = "LOSE"  # the venue positively never had it, after misses and grace


S, T = OrderState, Trigger

FINAL: frozenset[OrderState] = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})
NOT_FINAL: frozenset[OrderState] = frozenset(set(S) - FINAL)
# In flight = an outcome we do not know: sent without an answer, or a cancel not confirmed.
# A resting order (OPEN, PARTIALLY_FILLED) is known, and a NEW one was never sent; recovery
# after a crash counts only these, so a clean restart with resting stops stops nothing.
IN_FLIGHT: frozenset[OrderState] = frozenset({S.SUBMITTED, S.UNKNOWN, S.CANCELING})
LIVE_AT_VENUE = (S.SUBMITTED, S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED, S.CANCELING)

_AT_VENUE_OUTCOMES: dict[Trigger, OrderState] = {
    T.PARTIAL_FILL: S.PARTIALLY_FILLED,
    T.FILL: S.FILLED,
    T.CANCEL: S.CANCELED,
    T.EXPIRE: S.EXPIRED,
}

TRANSITIONS: dict[tuple[OrderState, Trigger], OrderState] = {
    (S.NEW, T.SUBMIT): S.SUBMITTED,
    (S.NEW, T.REJECT): S.REJECTED,  # refused before sending (clock drift, bad command)
    (S.SUBMITTED, T.TIMEOUT): S.UNKNOWN,
    (S.SUBMITTED, T.ACCEPT): S.OPEN,
    (S.SUBMITTED, T.REJECT): S.REJECTED,
    (S.SUBMITTED, T.LOSE): S.REJECTED,
    (S.UNKNOWN, T.ACCEPT): S.OPEN,
    (S.UNKNOWN, T.REJECT): S.REJECTED,
    (S.UNKNOWN, T.LOSE): S.REJECTED,
    (S.UNKNOWN, T.SUBMIT): S.SUBMITTED,  # the venue positively does not know it: re-send
    (S.OPEN, T.REQUEST_CANCEL): S.CANCELING,
    (S.PARTIALLY_FILLED, T.REQUEST_CANCEL): S.CANCELING,
    (S.CANCELING, T.ACCEPT): S.OPEN,  # cancel not confirmed and the venue still shows it open
    **{(s, t): to for s in LIVE_AT_VENUE for t, to in _AT_VENUE_OUTCOMES.items()},
}
# A partial fill seen while canceling keeps the order canceling: the cancel is still pending.
TRANSITIONS[(S.CANCELING, T.PARTIAL_FILL)] = S.CANCELING


class IllegalTransition(PermanentError):
    """A trigger that the order's current state cannot take (a bug or a stale view)."""

    code = "illegal_transition"
    http_status = 409


def next_state(state: OrderState, trigger: Trigger) -> OrderState:
    """The state ``trigger`` moves ``state`` to; raises IllegalTransition when not allowed."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransition(f"order in {state} cannot take {trigger}") from None


def is_final(state: OrderState) -> bool:
    return state in FINAL


def transitions_sql() -> str:
    """The INSERT that seeds the database copy of the table (used to write migration 0003)."""
    rows = ",\n".join(f"  ('{s}', '{t}', '{to}')" for (s, t), to in sorted(TRANSITIONS.items()))
    return f"INSERT INTO order_transitions (from_state, trigger, to_state) VALUES\n{rows};"


def triggers_for_venue(
    state: OrderState, venue_status: str, *, new_fills: bool, expired: bool = False
) -> list[Trigger]:
    """The triggers that bring an order in ``state`` to what the venue reports.

    The venue is authoritative for status and fills. An empty list means "in
    agreement" (or nothing the table allows: the caller audits that as a conflict).
    ``expired``: the command's expiry passed, so a venue cancel is recorded as EXPIRE.
    """
    if state in FINAL or state is S.NEW:
        return []
    wanted: Trigger | None = {
        "NEW": T.ACCEPT,
        "PARTIALLY_FILLED": T.PARTIAL_FILL,
        "FILLED": T.FILL,
        "CANCELED": T.EXPIRE if expired else T.CANCEL,
        "EXPIRED": T.EXPIRE,
        "REJECTED": T.REJECT,
    }.get(venue_status)
    if wanted is None:
        return []
    if wanted is T.ACCEPT and state is S.OPEN:
        return []
    if wanted is T.PARTIAL_FILL and state in (S.PARTIALLY_FILLED, S.CANCELING) and not new_fills:
        return []
    return [wanted] if (state, wanted) in TRANSITIONS else []
