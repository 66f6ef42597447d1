"""Binance USD-M's errors and quirks, translated into the venue port's meaning.

ccxt raises its own exception classes, chosen from Binance's error code (see ``client``
for why the futures table is used for every host). Most classes carry the meaning the
port needs; one code needs more than its class: -4116 (duplicate client order id) arrives
as a plain ``InvalidOrder`` but means "the order already exists: fetch it", never
"rejected". Codes Kairos acts on, and where:

| code | meaning | what happens |
|---|---|---|
| -1021 | timestamp outside the receive window | the LIVE adapter re-signs with the venue's time, once |
| -2022 | reduce-only order would not reduce | rejected; position-sync re-reads the position |
| -2021 | a stop would trigger immediately | rejected; position-sync takes the profit / closes now |
| -4116 | duplicate client order id | ``DuplicateClientId``: the executor fetches the order |
| -1006, -1007 | execution status unknown | a write: ``OutcomeUnknown``; a read: ``VenueUnavailable`` |
| -1001, -1008 | internal error, overloaded | as above (ccxt: ``OperationFailed``, not a ``NetworkError``) |

The rejection's reason keeps Binance's JSON (``{"code":-2022,...}``), which is how
position-sync tells a reduce-only rejection from another one.
"""

from __future__ import annotations

import json

from ccxt.base import errors as cx

from kairos.venues.port import (
    DuplicateClientId,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    VenueUnavailable,
)

TIMESTAMP_OUTSIDE_WINDOW = "-1021"
WOULD_TRIGGER_IMMEDIATELY = "-2021"
REDUCE_ONLY_REJECTED = "-2022"
DUPLICATE_CLIENT_ID = "-4116"

RATE_LIMITED = (cx.DDoSProtection, cx.RateLimitExceeded)
"""429 / 418: back off for the venue's Retry-After; nothing was executed."""

CLOCK_REFUSED = cx.InvalidNonce
"""-1021: our clock and the venue's disagree; re-sign with the venue's time."""


def code_of(exc: BaseException) -> str | None:
    """Binance's error code from the JSON body ccxt puts into the message, if any."""
    text = str(exc)
    start = text.find("{")
    if start < 0:
        return None
    try:
        return str(json.loads(text[start:]).get("code"))
    except (ValueError, AttributeError):
        return None


def translate(exc: BaseException, *, write: bool, what: str) -> Exception | None:
    """The port's exception for a ccxt (or timeout) exception raised by the request ``what``.

    Rate limits and clock refusals are not translated here: the adapter retries those.
    None for an exception with no meaning to the port (it propagates as it is).
    ``write``: a create or cancel, whose outcome is unknown after a network failure or a
    5xx (it may have been executed); a failed read is just unavailable, never an answer.
    """
    if isinstance(exc, cx.OrderNotFound):
        return OrderNotFound(what)
    if isinstance(exc, cx.InvalidOrder):
        code = code_of(exc)
        if code == DUPLICATE_CLIENT_ID:
            return DuplicateClientId(f"{what}: duplicate client order id", code)
        return OrderRejected(f"{what}: {exc}", code)
    if isinstance(exc, cx.InsufficientFunds | cx.BadRequest | cx.BadSymbol):
        return OrderRejected(f"{what}: {exc}", code_of(exc))
    if isinstance(exc, cx.AuthenticationError | cx.PermissionDenied | cx.AccountSuspended):
        # not executed: the venue refused to read the request (keys, clock)
        return VenueUnavailable(f"{what}: {type(exc).__name__}: {exc}; check the account keys and the clock guard")
    if isinstance(exc, cx.OperationFailed | cx.ExchangeError | TimeoutError):
        reason = f"{what}: {type(exc).__name__}: {exc}"
        if write:
            return OutcomeUnknown(reason + " (the request may have been executed)")
        return VenueUnavailable(reason)
    return None
