"""The venue is the truth for what is open: each reconciler tick compares every open LIVE
position row of an account with the venue's positions, and adopts what no fill explains.

Only the executor and the reconciler may talk to a venue (they hold the keys), so this module
takes what they read (``fetch_positions``, complete: a symbol absent is flat) as data. Per
slot, once no fill of ours is in flight for its symbol (``busy_symbols``):

- an open row the venue shows **flat**, or holding the **other side**, is closed by a
  synthetic reduce-only fill (``venue:<reason>:...``) at the last recorded mark (the entry
  when there is none), with ``close_reason`` = ``liquidation`` / ``auto_deleverage`` when
  the venue says it closed it (``VenueAdapter.close_reason``), else ``external_close``; a
  ``POSITION_CLOSED_AT_VENUE`` alert and an immediate sync (which cancels leftovers);
- an open row the venue holds on the **same side with another size** is adjusted by a
  synthetic fill of the difference (a reduction at the mark, an increase at the price that
  makes the entry equal the venue's), a ``POSITION_ADJUSTED`` alert and an immediate sync
  (which resizes TP/SL);
- a venue position with **no open row** in its slot (opened by hand, or the other side after
  the close above, or reopened after a close) is adopted: the core's ``adopt`` makes an
  unmanaged position, protected when the configuration says so (``protect_unmanaged``), a
  ``POSITION_ADOPTED`` alert and an immediate sync, so it is protected within the tick.

The synthetic fills go through the core's fold like any fill (events, realised PnL estimated
at the mark) and are recorded in ``position_fills``. The open-slot unique index makes a
second adoption of the same position fail instead of duplicating it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, derive_event, stable_id
from kairos.contracts.ops import Alert
from kairos.contracts.positions import as_contract
from kairos.portfolio import marks, protection_settings, store
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.projection import sync_command
from kairos.positions.fold import OpenDefaults, adopt, apply_fill
from kairos.positions.model import (
    Fill,
    FillIntent,
    Mode,
    OrderSide,
    Position,
    PositionKey,
    PositionSide,
    Protection,
)
from kairos.venues.port import VenuePosition

log = logging.getLogger("kairos.portfolio.adoption")
COMPONENT = "portfolio"


# Symbols with our own activity the projection has not caught up with: a fill recorded but not
# folded, a fill recorded or an order changed since the venue was read, an order whose outcome
# is not known yet (about to be sent, sent without an answer, canceling: the executor may be
# recording its fill right now). Their venue position may be ours in flight, so nothing is
# closed, adjusted or adopted on them this run.
# (Fills older than a day that were never folded are dead letters of portfolio: alerted there.)
BUSY_SYMBOLS = """
SELECT DISTINCT o.symbol FROM fills f JOIN orders o ON o.id = f.order_id
LEFT JOIN position_fills pf
       ON pf.account = f.account AND pf.venue = f.venue AND pf.venue_trade_id = f.venue_trade_id
WHERE f.account = %(account)s AND f.venue = %(venue)s AND f.recorded_at > now() - interval '24 hours'
  AND (pf.position_id IS NULL OR f.recorded_at > %(since)s OR pf.applied_at > %(since)s)
UNION
SELECT DISTINCT symbol FROM orders
WHERE account = %(account)s AND venue = %(venue)s
  AND (updated_at > %(since)s OR (state IN ('NEW', 'SUBMITTED', 'UNKNOWN', 'CANCELING')
                                  AND created_at > now() - interval '24 hours'))
"""


def busy_symbols(conn: psycopg.Connection, account: str, venue: str, since: datetime) -> set[str]:
    """Symbols whose venue position, read at ``since``, our own fills may still explain."""
    rows = conn.execute(BUSY_SYMBOLS, {"account": account, "venue": venue, "since": since}).fetchall()
    return {r[0] for r in rows}


CloseReason = Callable[[str, datetime], str]
MARK_FOR_CLOSE = timedelta(hours=1)  # an older mark is still a better exit estimate than the entry


def adopt_from_venue(conn: psycopg.Connection, account: str, venue: str, seen: Sequence[VenuePosition],
                     read_at: datetime, cause: Envelope[Any], config: PositionsConfig, source: str,
                     index_from: int = 0, close_reason: CloseReason | None = None) -> list[Envelope[Any]]:
    """The reconciler's entry for one account whose positions were read (completely) at
    ``read_at``: follow the venue for every open row, then adopt, minus the busy symbols.
    ``close_reason(symbol, since)`` asks the venue why a slot is flat (None: external close)."""
    busy = busy_symbols(conn, account, venue, read_at)
    if busy:
        log.info("venue comparison deferred: own fills in flight", extra={"account": account, "symbols": sorted(busy)})
    out = follow_venue(conn, account, venue, seen, busy, cause, source, read_at, index_from, close_reason)
    quiet = [vp for vp in seen if vp.symbol not in busy]
    return out + adopt_unexplained(conn, account, venue, quiet, cause, config, source, read_at,
                                   index_from=index_from + len(out))


def follow_venue(conn: psycopg.Connection, account: str, venue: str, seen: Sequence[VenuePosition],
                 busy: set[str], cause: Envelope[Any], source: str, at: datetime, index_from: int = 0,
                 close_reason: CloseReason | None = None) -> list[Envelope[Any]]:
    """Close or adjust every open row the venue disagrees with (module docstring)."""
    amounts = {vp.symbol: vp for vp in seen}
    out: list[Envelope[Any]] = []
    for current in (p for p in store.open_for_account(conn, account, venue) if p.mode is Mode.LIVE):
        symbol = current.key.symbol
        if symbol in busy:
            continue
        vp = amounts.get(symbol)
        amount = vp.amount if vp is not None else Decimal(0)
        if amount == current.signed_quantity:
            continue
        flat_or_flipped = amount == 0 or (amount > 0) != (current.side is PositionSide.LONG)
        mark = marks.latest(conn, venue, symbol, MARK_FOR_CLOSE) or current.entry_price
        if flat_or_flipped:
            reason = _why_flat(close_reason, symbol, current)
            fill = _synthetic(current, f"venue:{reason}:{current.position_id}:{current.revision}",
                              current.quantity, mark, at, reduce=True)
            code, severity = "POSITION_CLOSED_AT_VENUE", ("critical" if reason != "external_close" else "warning")
            message = (f"{current.key.text()}: the venue holds {amount}, the projection {current.signed_quantity}; "
                       f"closed ({reason}) at an estimated {mark}")
        else:
            reason = "adjusted"
            delta = abs(amount) - current.quantity
            price = mark if delta < 0 else _increase_price(current, abs(amount), vp.entry_price if vp else mark)
            fill = _synthetic(current, f"venue:adjust:{current.position_id}:{current.revision}:{amount}",
                              abs(delta), price, at, reduce=delta < 0)
            code, severity = "POSITION_ADJUSTED", "warning"
            message = (f"{current.key.text()}: the venue holds {amount}, the projection {current.signed_quantity}; "
                       "the position now follows the venue and its protection is resized")
        result = apply_fill(current, fill, OpenDefaults())
        store.save(conn, result.position)
        store.record_fill(conn, fill, current.position_id)
        if flat_or_flipped:
            conn.execute("UPDATE positions SET close_reason = %s WHERE position_id = %s",
                         (reason, current.position_id))
        pid = current.position_id
        out += [derive_event(cause, as_contract(e), source=source, partition_key=pid,
                             index=index_from + len(out) + i) for i, e in enumerate(result.events)]
        out.append(_alert(cause, source, index_from + len(out), severity, code, message,
                          {"position_id": pid, "venue_amount": str(amount), "reason": reason}))
        out.append(sync_command(cause, pid, source, "adoption"))  # the reconciler's venue comparison
        log.warning("position follows the venue", extra={"position_id": pid, "reason": reason,
                                                          "venue_amount": str(amount)})
    return out


def _why_flat(close_reason: CloseReason | None, symbol: str, current: Position) -> str:
    if close_reason is None:
        return "external_close"
    try:
        return close_reason(symbol, current.opened_at)
    except Exception as exc:  # the venue could not tell why; it is flat all the same
        log.warning("close reason unknown: recorded as an external close",
                    extra={"position_id": current.position_id, "reason": str(exc)})
        return "external_close"


def _increase_price(current: Position, venue_quantity: Decimal, venue_entry: Decimal) -> Decimal:
    """The price at which the added quantity makes our average entry the venue's."""
    added = venue_quantity - current.quantity
    price = (venue_entry * venue_quantity - current.entry_price * current.quantity) / added
    return price if price > 0 else venue_entry


def _synthetic(current: Position, trade_id: str, quantity: Decimal, price: Decimal, at: datetime,
               *, reduce: bool) -> Fill:
    """A fill standing for trades Kairos did not make (by hand, a liquidation)."""
    long = current.side is PositionSide.LONG
    side = OrderSide.SELL if long == reduce else OrderSide.BUY
    return Fill(venue_trade_id=trade_id, account=current.key.account, venue=current.key.venue,
                symbol=current.key.symbol, side=side, quantity=quantity, price=price, occurred_at=at,
                reduce_only=reduce, intent=FillIntent.EXIT if reduce else FillIntent.ENTRY,
                strategy_id=current.strategy_id)


def adopt_unexplained(conn: psycopg.Connection, account: str, venue: str, seen: Sequence[VenuePosition],
                      cause: Envelope[Any], config: PositionsConfig, source: str, at: datetime,
                      index_from: int = 0) -> list[Envelope[Any]]:
    """Adopt every venue position with no open row in its slot; alert drift on the others.

    ``index_from``: where this call's derived event ids start, so that one cause (a reconciler
    tick) can adopt for several accounts without two outputs sharing an id."""
    out: list[Envelope[Any]] = []
    for vp in seen:
        if vp.amount == 0:
            continue
        key = PositionKey(account=account, venue=venue, symbol=vp.symbol)
        current = store.open_in_slot(conn, key)
        side = PositionSide.LONG if vp.amount > 0 else PositionSide.SHORT
        if current is not None:
            if current.signed_quantity != vp.amount:
                out.append(_alert(cause, source, index_from + len(out), "warning", "POSITION_DRIFT",
                                  f"{key.text()}: venue holds {vp.amount}, the projection {current.signed_quantity}",
                                  {"position_id": current.position_id, "venue_amount": str(vp.amount)}))
            continue
        protection = protection_settings.resolve(conn, config, account, None) if config.protect_unmanaged \
            else Protection()
        result = adopt(key, side, abs(vp.amount), vp.entry_price, at, protect=not protection.empty,
                       protection=protection)
        store.save(conn, result.position)
        pid = result.position.position_id
        out += [derive_event(cause, as_contract(e), source=source, partition_key=pid, index=index_from + len(out) + i)
                for i, e in enumerate(result.events)]
        out.append(_alert(cause, source, index_from + len(out), "warning", "POSITION_ADOPTED",
                          f"{key.text()}: {side.value} {abs(vp.amount)} at {vp.entry_price} opened outside Kairos; "
                          f"adopted as unmanaged{' and protected' if not protection.empty else ''}",
                          {"position_id": pid, "amount": str(vp.amount)}))
        out.append(sync_command(cause, pid, source, "adoption"))
        log.warning("venue position adopted", extra={"position_id": pid, "symbol": vp.symbol})
    return out


def _alert(cause: Envelope[Any], source: str, index: int, severity: str, code: str, message: str,
           details: dict[str, Any]) -> Envelope[Alert]:
    alert = Alert(severity=severity, code=code, component=COMPONENT, message=message,  # type: ignore[arg-type]
                  action="check who traded this account; close it at the venue or let Kairos protect it",
                  details=details)
    env = derive_event(cause, alert, source=source, partition_key=COMPONENT, index=index)
    if code == "POSITION_DRIFT":
        # The reconciler sees the same drift every minute until someone acts: one event id per
        # (position, venue amount), so alert consumers dedupe it instead of paging each minute.
        env = env.with_meta(id=stable_id("kairos.position.drift", details["position_id"], details["venue_amount"]))
    return env
