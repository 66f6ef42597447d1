"""Postgres persistence of orders: the projection, its append-only events, fills, audit.

Every function here runs in the caller's transaction and writes the events it causes to
the outbox in that same transaction (``Emitter``), so a transition and its publication
are one atomic fact. Event ids are derived from the order (client order id + sequence,
venue trade id, command id), not from whoever noticed the change: the executor, the
reconciler and recovery can all observe the same venue fact, and it is still published
once, because the ``order_events`` / ``fills`` row that gates it is inserted once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import psycopg
from kairos.catalog import Function, load_catalog
from kairos.contracts.codec import KafkaRecord, envelope_from_json, envelope_to_json, from_kafka
from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import Envelope, new_event, stable_id
from kairos.contracts.execution import OrderEvent, OrderFill, TradeResult
from kairos.execution.states import FINAL, OrderState, Trigger, next_state
from kairos.runtime.recorder import OutboxRow, append_outbox
from kairos.venues.port import CONDITIONAL_TYPES, OrderRequest, VenueTrade
from psycopg.rows import dict_row
from pydantic import BaseModel


@dataclass(frozen=True)
class OrderRow:
    id: int
    command_id: str
    client_order_id: str
    account: str
    venue: str
    mode: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    activation_price: Decimal | None
    callback_rate: Decimal | None
    reduce_only: bool
    time_in_force: str | None
    intent: str
    strategy_id: str
    expires_at: datetime | None
    state: OrderState
    seq: int
    venue_order_id: str | None
    reason: str | None
    misses: int
    first_missed_at: datetime | None
    created_at: datetime
    command_event: str
    replaces_command_id: str | None = None  # an amend's replacement: the command whose order it replaces
    remaining_of_target: bool = False  # its quantity is what the target left unfilled

    @property
    def conditional(self) -> bool:
        return self.order_type in CONDITIONAL_TYPES

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def request(self) -> OrderRequest:
        return OrderRequest(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            quantity=self.quantity,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            activation_price=self.activation_price,
            callback_rate=self.callback_rate,
            reduce_only=self.reduce_only,
            time_in_force=self.time_in_force,
        )


_COLUMNS = [f.name for f in fields(OrderRow)]
# The columns in OrderRow's order; the command envelope as text (a cast keeps its column name).
_RETURNING = [c if c != "command_event" else "command_event::text" for c in _COLUMNS]
_SELECT = "SELECT " + ", ".join(_RETURNING) + " FROM orders"


def _row(r: dict[str, Any]) -> OrderRow:
    r = dict(r)
    r["state"] = OrderState(r["state"])
    return OrderRow(**r)


@lru_cache(maxsize=4096)
def _cause(command_event: str) -> Envelope[Any]:
    return envelope_from_json(command_event)


@dataclass(frozen=True)
class Emitter:
    """Who writes outputs (function name = outbox producer, CloudEvent source) and where to."""

    function: str

    @property
    def source(self) -> str:
        return f"/kairos/{self.function}"

    @property
    def spec(self) -> Function:
        return load_catalog().function(self.function)

    def write(self, conn: psycopg.Connection, order: OrderRow, data: BaseModel, event_id: str) -> list[OutboxRow]:
        cause = _cause(order.command_event)
        env = new_event(
            data,
            source=self.source,
            partition_key=f"{order.account}|{order.symbol}",
            event_id=event_id,
            venue=order.venue,
            correlation_id=cause.meta.correlation_id,
            causation_id=cause.meta.id,
            subject=order.client_order_id,
        )
        topic = load_catalog().output_topic(self.spec, env.meta.type)
        return append_outbox(conn, self.function, [(topic, env)])


# --- orders --------------------------------------------------------------------------


def insert_order_once(
    conn: psycopg.Connection,
    cmd: ExecuteTrade,
    command: Envelope[Any],
    *,
    client_order_id: str,
    mode: str,
    replaces: str | None = None,
    remaining_of_target: bool = False,
) -> tuple[OrderRow, bool]:
    """Insert the order in NEW; (stored row, True when this call inserted it)."""
    cur = conn.execute(
        "INSERT INTO orders (command_id, client_order_id, account, venue, mode, symbol, side, order_type, quantity,"
        " limit_price, stop_price, activation_price, callback_rate, reduce_only, time_in_force, intent, strategy_id,"
        " expires_at, replaces_command_id, remaining_of_target, command_event, state)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'NEW')"
        " ON CONFLICT (command_id) DO NOTHING RETURNING " + ", ".join(_RETURNING),
        (
            cmd.command_id,
            client_order_id,
            cmd.account,
            cmd.venue,
            mode,
            cmd.symbol,
            cmd.side,
            cmd.order_type,
            cmd.quantity,
            cmd.limit_price,
            cmd.stop_price,
            cmd.activation_price,
            cmd.callback_rate,
            cmd.reduce_only,
            cmd.time_in_force,
            cmd.intent,
            cmd.strategy_id,
            cmd.expires_at,
            replaces,
            remaining_of_target,
            envelope_to_json(command),
        ),
    )
    with_row = cur.fetchone()
    if with_row is not None:
        return _row(dict(zip(_COLUMNS, with_row, strict=True))), True
    row = by_command(conn, cmd.command_id)
    assert row is not None
    return row, False


def by_command(conn: psycopg.Connection, command_id: str, *, lock: bool = False) -> OrderRow | None:
    with conn.cursor(row_factory=dict_row) as cur:
        r = cur.execute(_SELECT + " WHERE command_id = %s" + (" FOR UPDATE" if lock else ""), (command_id,)).fetchone()
    return _row(r) if r else None


def by_id(conn: psycopg.Connection, order_id: int, *, lock: bool = False) -> OrderRow:
    with conn.cursor(row_factory=dict_row) as cur:
        r = cur.execute(_SELECT + " WHERE id = %s" + (" FOR UPDATE" if lock else ""), (order_id,)).fetchone()
    assert r is not None, f"order {order_id} vanished"
    return _row(r)


def in_flight(conn: psycopg.Connection, *, hours: int = 24, accounts: list[str] | None = None) -> list[OrderRow]:
    """Non-final orders to reconcile, oldest first: every order resting at the venue (OPEN,
    PARTIALLY_FILLED, CANCELING) whatever its age, since a position's stop-loss and take-profit
    rest as long as it is held; the others (an outcome never learned) of the last ``hours``."""
    where = (
        " WHERE state NOT IN ('FILLED','CANCELED','REJECTED','EXPIRED')"
        " AND (state IN ('OPEN','PARTIALLY_FILLED','CANCELING') OR created_at > now() - make_interval(hours => %s))"
    )
    args: list[Any] = [hours]
    if accounts is not None:
        where += " AND account = ANY(%s)"
        args.append(accounts)
    with conn.cursor(row_factory=dict_row) as cur:
        return [_row(r) for r in cur.execute(_SELECT + where + " ORDER BY id", args).fetchall()]


# Its predicate is the partial index ``orders_shadow_resting``'s: every ticker asks it.
RESTING_SHADOW = (
    _SELECT + " WHERE mode = 'shadow' AND venue = %s AND symbol = %s"
    " AND state NOT IN ('FILLED','CANCELED','REJECTED','EXPIRED') ORDER BY id"
)


def resting_shadow(conn: psycopg.Connection, venue: str, symbol: str) -> list[OrderRow]:
    """The non-final SHADOW orders of ``symbol`` on ``venue``, whatever their age, oldest first:
    what a new price of that symbol may fill."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [_row(r) for r in cur.execute(RESTING_SHADOW, (venue, symbol)).fetchall()]


@dataclass(frozen=True)
class CancelRequest:
    """A durable request to cancel an order (``order_cancel_requests``): the intent of a
    cancel or amend command, kept until the order is final whatever the command's fate."""

    order_id: int
    command_id: str
    reason: str
    requested_at: datetime
    sent_at: datetime | None
    attempts: int


def request_cancel(conn: psycopg.Connection, order_id: int, command_id: str, reason: str) -> None:
    """Record the intent to cancel; the first request of an order wins (later ones are the same intent)."""
    conn.execute(
        "INSERT INTO order_cancel_requests (order_id, command_id, reason) VALUES (%s, %s, %s)"
        " ON CONFLICT (order_id) DO NOTHING",
        (order_id, command_id, reason),
    )


def cancel_request(conn: psycopg.Connection, order_id: int) -> CancelRequest | None:
    with conn.cursor(row_factory=dict_row) as cur:
        r = cur.execute(
            "SELECT order_id, command_id, reason, requested_at, sent_at, attempts FROM order_cancel_requests"
            " WHERE order_id = %s",
            (order_id,),
        ).fetchone()
    return CancelRequest(**r) if r else None


def mark_cancel_sent(conn: psycopg.Connection, order_id: int) -> None:
    """Stamp the moment a cancel leaves for the venue (before the call: a crash after it must
    not let the next attempt send a second cancel inside the venue's receive window)."""
    conn.execute(
        "UPDATE order_cancel_requests SET sent_at = now(), attempts = attempts + 1 WHERE order_id = %s", (order_id,)
    )


def fill_totals(conn: psycopg.Connection, order_id: int) -> tuple[Decimal, Decimal | None, Decimal]:
    r = conn.execute(
        "SELECT filled_quantity, average_price, fee FROM order_fill_totals WHERE order_id = %s", (order_id,)
    ).fetchone()
    if r is None:
        return Decimal("0"), None, Decimal("0")
    return Decimal(r[0]), Decimal(r[1]).quantize(Decimal("0.00000001")), Decimal(r[2])


# --- transitions ------------------------------------------------------------------------


_RESULT_STATUS = {
    OrderState.FILLED: "filled",
    OrderState.CANCELED: "canceled",
    OrderState.REJECTED: "rejected",
    OrderState.EXPIRED: "expired",
}


def transition(
    conn: psycopg.Connection,
    order: OrderRow,
    trigger: Trigger,
    *,
    actor: str,
    emitter: Emitter,
    reason: str | None = None,
    venue_order_id: str | None = None,
    venue_status: str | None = None,
) -> tuple[OrderRow, list[OutboxRow]]:
    """Apply ``trigger`` to the (locked, current) ``order``: one ``order_events`` row, the
    new projection, an ``exec.order_event`` and, on a final state, the ``exec.trade_result``.

    Raises IllegalTransition when the table does not allow it (Postgres would refuse too).
    """
    to = next_state(order.state, trigger)
    seq = order.seq + 1
    event_id = stable_id("kairos.exec.order_event", order.client_order_id, seq)
    conn.execute(
        "INSERT INTO order_events (order_id, seq, event_id, from_state, trigger, to_state, reason, venue_status, actor)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (order.id, seq, event_id, order.state, trigger, to, reason, venue_status, actor),
    )
    conn.execute(
        "UPDATE orders SET state = %s, seq = %s, venue_order_id = coalesce(%s, venue_order_id),"
        " venue_status = coalesce(%s, venue_status), reason = coalesce(%s, reason), updated_at = now(),"
        " misses = 0, first_missed_at = NULL WHERE id = %s",
        (to, seq, venue_order_id, venue_status, reason, order.id),
    )
    new = replace(
        order,
        state=to,
        seq=seq,
        venue_order_id=venue_order_id or order.venue_order_id,
        reason=reason or order.reason,
        misses=0,
        first_missed_at=None,
    )
    no_fills_yet = trigger in (Trigger.SUBMIT, Trigger.TIMEOUT) or (
        trigger is Trigger.ACCEPT and order.state in (OrderState.SUBMITTED, OrderState.UNKNOWN)
    )
    filled, avg, fee = (Decimal("0"), None, Decimal("0")) if no_fills_yet else fill_totals(conn, order.id)
    now = datetime.now(UTC)
    out_rows = emitter.write(
        conn,
        new,
        OrderEvent(
            command_id=new.command_id,
            client_order_id=new.client_order_id,
            account=new.account,
            venue=new.venue,
            symbol=new.symbol,
            side=new.side,
            order_type=new.order_type,
            seq=seq,
            from_state=order.state,
            trigger=trigger,
            to_state=to,
            venue_order_id=new.venue_order_id,
            filled_quantity=filled,
            average_price=avg,
            reason=reason,
            actor=actor,
            mode=new.mode,
            occurred_at=now,
        ),  # type: ignore[arg-type]
        event_id,
    )
    if to in FINAL:
        out_rows += emitter.write(conn, new, trade_result(new, filled, avg, fee, now), result_event_id(new.command_id))
    return new, out_rows


def result_event_id(command_id: str) -> str:
    return stable_id("kairos.exec.trade_result", command_id)


def trade_result(order: OrderRow, filled: Decimal, avg: Decimal | None, fee: Decimal, now: datetime) -> TradeResult:
    status = _RESULT_STATUS[order.state]
    if status in ("canceled", "expired") and filled > 0:
        status = "partially_filled"
    return TradeResult(
        command_id=order.command_id,
        account=order.account,
        venue=order.venue,
        symbol=order.symbol,
        side=order.side,
        status=status,
        requested_quantity=order.quantity,
        filled_quantity=filled,  # type: ignore[arg-type]
        average_price=avg,
        fee=fee,
        fee_asset="USDT" if filled > 0 else None,
        reason=order.reason,
        executed_at=now,
        mode=order.mode,
        client_order_id=order.client_order_id,
        venue_order_id=order.venue_order_id,  # type: ignore[arg-type]
    )


def stored_result(conn: psycopg.Connection, command_id: str) -> Envelope[Any] | None:
    """The trade result already written for a command (to answer a redelivery identically)."""
    r = conn.execute(
        "SELECT record_key, headers, value FROM outbox WHERE event_id = %s ORDER BY id LIMIT 1",
        (result_event_id(command_id),),
    ).fetchone()
    if r is None:
        return None
    key, headers, value = r
    hdrs = tuple((str(k), str(v).encode()) for k, v in headers)
    return from_kafka(KafkaRecord(key=bytes(key) if key is not None else None, value=bytes(value), headers=hdrs))


def record_fills(
    conn: psycopg.Connection, order: OrderRow, trades: tuple[VenueTrade, ...], *, emitter: Emitter
) -> tuple[int, list[OutboxRow]]:
    """Insert trades not seen before (unique by venue trade id); one ``exec.fill`` per new one."""
    new, out_rows = 0, []
    for t in trades:
        r = conn.execute(
            "INSERT INTO fills (order_id, account, venue, venue_trade_id, quantity, price, fee, fee_asset, is_maker,"
            " traded_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING RETURNING id",
            (
                order.id,
                order.account,
                order.venue,
                t.trade_id,
                t.quantity,
                t.price,
                t.fee,
                t.fee_asset,
                t.is_maker,
                t.time,
            ),
        ).fetchone()
        if r is None:
            continue
        new += 1
        data = OrderFill(
            command_id=order.command_id,
            client_order_id=order.client_order_id,
            account=order.account,
            venue=order.venue,
            symbol=order.symbol,
            side=order.side,
            venue_order_id=order.venue_order_id,  # type: ignore[arg-type]
            venue_trade_id=t.trade_id,
            quantity=t.quantity,
            price=t.price,
            fee=t.fee,
            fee_asset=t.fee_asset,
            is_maker=t.is_maker,
            traded_at=t.time,
            mode=order.mode,  # type: ignore[arg-type]
        )
        fill_id = stable_id("kairos.exec.fill", order.venue, order.account, t.trade_id)
        out_rows += emitter.write(conn, order, data, fill_id)
    return new, out_rows


def audit(
    conn: psycopg.Connection,
    run_id: str,
    account: str,
    action: str,
    details: dict[str, Any],
    order_id: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO reconciliation_audit (run_id, order_id, account, action, details) VALUES (%s,%s,%s,%s,%s)",
        (run_id, order_id, account, action, json.dumps(details, default=str)),
    )
