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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.ops import Alert
from kairos.contracts.positions import as_contract
from kairos.portfolio import store
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.projection import sync_command
from kairos.positions.fold import adopt
from kairos.positions.model import PositionKey, PositionSide

log = logging.getLogger("kairos.portfolio.adoption")
COMPONENT = "portfolio"


@dataclass(frozen=True)
class VenuePosition:
    """One position as the venue reports it: ``amount`` signed (long > 0), one-way mode."""

    symbol: str
    amount: Decimal
    entry_price: Decimal


def adopt_unexplained(conn: psycopg.Connection, account: str, venue: str, seen: Sequence[VenuePosition],
                      cause: Envelope[Any], config: PositionsConfig, source: str, at: datetime) -> list[Envelope[Any]]:
    """Adopt every venue position with no open row in its slot; alert drift on the others."""
    out: list[Envelope[Any]] = []
    for vp in seen:
        if vp.amount == 0:
            continue
        key = PositionKey(account=account, venue=venue, symbol=vp.symbol)
        current = store.open_in_slot(conn, key)
        side = PositionSide.LONG if vp.amount > 0 else PositionSide.SHORT
        if current is not None:
            if current.signed_quantity != vp.amount:
                out.append(_alert(cause, source, len(out), "warning", "POSITION_DRIFT",
                                  f"{key.text()}: venue holds {vp.amount}, the projection {current.signed_quantity}",
                                  {"position_id": current.position_id, "venue_amount": str(vp.amount)}))
            continue
        protection = config.default if config.protect_unmanaged else config.default.model_copy(
            update={"take_profits": (), "stop_loss": None, "trailing": None})
        result = adopt(key, side, abs(vp.amount), vp.entry_price, at, protect=not protection.empty,
                       protection=protection)
        store.save(conn, result.position)
        pid = result.position.position_id
        out += [derive_event(cause, as_contract(e), source=source, partition_key=pid, index=len(out) + i)
                for i, e in enumerate(result.events)]
        out.append(_alert(cause, source, len(out), "warning", "POSITION_ADOPTED",
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
    return derive_event(cause, alert, source=source, partition_key=COMPONENT, index=index)
