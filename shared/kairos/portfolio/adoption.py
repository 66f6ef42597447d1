"""Positions found at the venue that no fill of ours explains (opened by hand): adopt and alert.

Only the executor and the reconciler may talk to a venue (they hold the keys), so this module
takes what they read (``fetch_positions``) as data. For each venue position whose slot has no
open row, the core's ``adopt`` makes an unmanaged position (``managed=False``), protected when
the configuration says so (``protect_unmanaged``); the outputs are its opened event, a
``POSITION_ADOPTED`` alert and an immediate sync. A slot whose open row disagrees with the
venue's size is alerted as drift (the projection is never patched from here). The open-slot
unique index makes a second adoption of the same position fail instead of duplicating it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, derive_event, stable_id
from kairos.contracts.ops import Alert
from kairos.contracts.positions import as_contract
from kairos.venues.port import VenuePosition
from kairos.portfolio import store
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.projection import sync_command
from kairos.positions.fold import adopt
from kairos.positions.model import PositionKey, PositionSide

log = logging.getLogger("kairos.portfolio.adoption")
COMPONENT = "portfolio"


# Symbols with our own activity the projection has not caught up with: a fill recorded but not
# folded, a fill recorded or an order changed since the venue was read. Their venue position
# may be ours in flight, so neither adoption nor a drift alert is decided on them this run.
# (Fills older than a day that were never folded are dead letters of portfolio: alerted there.)
BUSY_SYMBOLS = """
SELECT DISTINCT o.symbol FROM fills f JOIN orders o ON o.id = f.order_id
LEFT JOIN position_fills pf
       ON pf.account = f.account AND pf.venue = f.venue AND pf.venue_trade_id = f.venue_trade_id
WHERE f.account = %(account)s AND f.venue = %(venue)s AND f.recorded_at > now() - interval '24 hours'
  AND (pf.position_id IS NULL OR f.recorded_at > %(since)s OR pf.applied_at > %(since)s)
UNION
SELECT DISTINCT symbol FROM orders
WHERE account = %(account)s AND venue = %(venue)s AND updated_at > %(since)s
"""


def busy_symbols(conn: psycopg.Connection, account: str, venue: str, since: datetime) -> set[str]:
    """Symbols whose venue position, read at ``since``, our own fills may still explain."""
    rows = conn.execute(BUSY_SYMBOLS, {"account": account, "venue": venue, "since": since}).fetchall()
    return {r[0] for r in rows}


def adopt_from_venue(conn: psycopg.Connection, account: str, venue: str, seen: Sequence[VenuePosition],
                     read_at: datetime, cause: Envelope[Any], config: PositionsConfig, source: str,
                     index_from: int = 0) -> list[Envelope[Any]]:
    """The reconciler's entry: positions read at ``read_at``, minus the symbols still busy."""
    busy = busy_symbols(conn, account, venue, read_at)
    quiet = [vp for vp in seen if vp.symbol not in busy]
    if busy & {vp.symbol for vp in seen}:
        log.info("adoption deferred: own fills in flight", extra={"account": account, "symbols": sorted(busy)})
    return adopt_unexplained(conn, account, venue, quiet, cause, config, source, read_at, index_from=index_from)


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
        protection = config.default if config.protect_unmanaged else config.default.model_copy(
            update={"take_profits": (), "stop_loss": None, "trailing": None})
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
