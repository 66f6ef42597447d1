"""The executor's order flow: commit the order, then call the venue, then record the answer.

Sequence for one ``cmd.execute_trade`` (LIVE or SHADOW account):

1. ``INSERT orders ... ON CONFLICT (command_id) DO NOTHING`` in its own transaction on the
   service's own pool, committed at once: the order row with its deterministic client
   order id exists BEFORE anything is sent. The delivery's inbox transaction stays open
   meanwhile and commits only after the order reached a recorded outcome.
2. A session advisory lock on the client order id serialises every executor instance and
   every redelivery of the command (and cancels/amends of the order): exactly one of them
   drives the order at a time; the others find the outcome it recorded.
3. ``NEW -> SUBMITTED`` is committed, then the venue is called (outside any transaction).
4. The answer is recorded in one transaction: fills (unique by venue trade id), the
   transition(s), and their events in the outbox. A timeout, reset or 5xx is recorded as
   ``SUBMITTED -> UNKNOWN``; the order is then looked up by client order id. A duplicate
   client id is resolved by fetching the existing order.
5. An order found in SUBMITTED or UNKNOWN (a previous attempt crashed or timed out) is
   first looked up at the venue; it is re-sent only when the venue positively does not
   know it AND the venue's receive window has passed since our last attempt (a request
   older than the window can no longer be executed, so "not found" is final).

Cancel and amend follow the same lock-commit-call-record rhythm: the cancel request
(``order_cancel_requests``) and an amend's replacement row are committed before the venue
is called, so their commands can be acknowledged while the venue's answer is pending; the
pending-outcome resolver finishes them (``kairos.execution.pending``). The pure decisions live
in ``states.py`` and ``clock.py``; this module does the I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from kairos.contracts.commands import AmendOrder, CancelOrder, ExecuteTrade
from kairos.contracts.envelope import Envelope
from kairos.errors import TransientError
from kairos.execution import approvals, clock, metrics, stop_check
from kairos.execution import repository as repo
from kairos.execution.accounts import AccountBook
from kairos.execution.client_ids import client_order_id
from kairos.execution.states import OrderState, Trigger, triggers_for_venue
from kairos.runtime.recorder import OutboxRow
from kairos.venues.port import (
    DuplicateClientId,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    VenueAdapter,
    VenueError,
    VenueOrder,
)
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)
S, T = OrderState, Trigger


class OutcomePending(TransientError):
    """The order's venue outcome is not known yet: the delivery is retried (never failed)."""

    code = "order_outcome_pending"


class TargetNotKnown(TransientError):
    code = "target_not_known"


@dataclass
class ServiceSettings:
    actor: str = "executor"
    resend_grace_s: float = 6.0  # > the venue receive window used by the adapter (5 s)
    resolve_attempts: int = 3
    resolve_pause_s: float = 0.2
    clock_block_ms: Decimal = clock.BLOCK_MS


class ExecutionService:
    """Drives orders of LIVE and SHADOW accounts. Returns outbox out_rows to publish."""

    def __init__(
        self, pool: ConnectionPool, book: AccountBook, emitter: repo.Emitter, settings: ServiceSettings | None = None
    ) -> None:
        self.pool = pool
        self.book = book
        self.emitter = emitter
        self.settings = settings or ServiceSettings()

    # --- locking ---------------------------------------------------------------------

    @contextmanager
    def _locked(self, cid: str) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (cid,))
            try:
                yield conn
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (cid,))

    # --- commands --------------------------------------------------------------------

    def execute(self, cmd: ExecuteTrade, command: Envelope[Any]) -> list[OutboxRow]:
        """Place the command's order exactly once; raises TransientError while the outcome is open."""
        acct, adapter = self.book.get(cmd.account)
        cid = client_order_id(cmd.command_id)
        with self._locked(cid) as conn:
            with conn.transaction():  # committed before the venue is called
                order, inserted = repo.insert_order_once(conn, cmd, command, client_order_id=cid, mode=acct.mode)
                if inserted:  # the common path: NEW and its first decision in one commit
                    order, out_rows = self._first_step(conn, order)
            if not inserted:
                return self._drive(conn, order, adapter)
            if order.state is not S.SUBMITTED:
                return out_rows  # refused before sending
            return out_rows + self._send(conn, order, adapter)

    def _first_step(self, conn: psycopg.Connection, order: repo.OrderRow) -> tuple[repo.OrderRow, list[OutboxRow]]:
        """NEW -> REJECTED (pre-trade refusal) or NEW -> SUBMITTED, inside the caller's transaction."""
        refusal = self._pre_trade_refusal(conn, order)
        if refusal:
            log.warning(
                "order refused before sending", extra={"client_order_id": order.client_order_id, "reason": refusal}
            )
            return repo.transition(
                conn, order, T.REJECT, actor=self.settings.actor, emitter=self.emitter, reason=refusal
            )
        return repo.transition(conn, order, T.SUBMIT, actor=self.settings.actor, emitter=self.emitter)

    def resume(self, conn: psycopg.Connection, order: repo.OrderRow, adapter: VenueAdapter) -> list[OutboxRow]:
        """Drive an order already recorded (the caller holds its advisory lock), as a
        redelivery of its command would: the pending-outcome resolver's entry point. An
        order with a cancel request has its cancel finished; an amend's replacement is
        placed once its target is final. Raises OutcomePending while the venue cannot tell."""
        return self._drive(conn, order, adapter)

    def _drive(self, conn: psycopg.Connection, order: repo.OrderRow, adapter: VenueAdapter) -> list[OutboxRow]:
        if order.final:
            return []
        request = repo.cancel_request(conn, order.id)
        if request is not None:  # a cancel was asked for: never (re-)send, finish the cancel
            return self._settle_cancel(conn, order, adapter, request)
        if order.state in (S.OPEN, S.PARTIALLY_FILLED, S.CANCELING):
            return []  # acknowledged by the venue already; reconciliation follows it from here
        out_rows: list[OutboxRow] = []
        if order.state is S.NEW:  # a crash between commit and decision, or an amend's replacement
            if order.replaces_command_id is not None:
                refused = self._replacement_gate(conn, order)
                if refused is not None:
                    return refused
            with conn.transaction():
                order, out = self._first_step(conn, repo.by_id(conn, order.id, lock=True))
                out_rows += out
            if order.state is not S.SUBMITTED:
                return out_rows
        else:  # SUBMITTED or UNKNOWN: a previous attempt may have reached the venue
            found = self._lookup(order, adapter)
            if found is not None:
                return out_rows + self.apply(conn, order, found)
            waited = (datetime.now(UTC) - self._last_attempt(conn, order)).total_seconds()
            if waited < self.settings.resend_grace_s:
                raise OutcomePending(
                    f"order {order.client_order_id} is {order.state} and unknown at the venue; re-send allowed in "
                    f"{self.settings.resend_grace_s - waited:.1f}s (receive window)"
                )
            if order.state is S.UNKNOWN:
                order, out = self._move(conn, order, T.SUBMIT, reason="venue does not know it: re-send")
                out_rows += out
            log.info(
                "re-sending an order the venue positively does not know",
                extra={"client_order_id": order.client_order_id},
            )
        return out_rows + self._send(conn, order, adapter)

    def _send(self, conn: psycopg.Connection, order: repo.OrderRow, adapter: VenueAdapter) -> list[OutboxRow]:
        try:
            refusal = stop_check.venue_refusal(order, adapter)
            if refusal is not None:
                raise OrderRejected(refusal)
            answer = self._submit(order, adapter)
        except DuplicateClientId:
            answer = self._fetch_or_pending(order, adapter)
        except OrderRejected as exc:
            with conn.transaction():
                order = repo.by_id(conn, order.id, lock=True)
                if order.state is not S.SUBMITTED:
                    return []
                _o, out = repo.transition(
                    conn, order, T.REJECT, actor=self.settings.actor, emitter=self.emitter, reason=exc.reason[:500]
                )
            return out
        except OutcomeUnknown as exc:
            order, out = self._move(conn, order, T.TIMEOUT, reason=str(exc)[:500])
            for attempt in range(self.settings.resolve_attempts):
                time.sleep(self.settings.resolve_pause_s * (attempt + 1))
                found = self._lookup(order, adapter)
                if found is not None:
                    return out + self.apply(conn, order, found)
            raise OutcomePending(
                f"order {order.client_order_id}: {exc}; outcome unknown, will ask the venue again"
            ) from None
        return self.apply(conn, order, answer)

    @staticmethod
    def _submit(order: repo.OrderRow, adapter: VenueAdapter) -> VenueOrder:
        """``adapter.submit`` counted by outcome and timed (kairos.execution.metrics)."""
        started = time.monotonic()
        outcome = "unknown"
        try:
            answer = adapter.submit(order.request())
            outcome = "accepted"
            return answer
        except DuplicateClientId:
            outcome = "accepted"  # the venue already holds it: an earlier attempt got through
            raise
        except OrderRejected:
            outcome = "rejected"
            raise
        finally:
            metrics.SUBMIT_SECONDS.labels(order.venue).observe(time.monotonic() - started)
            metrics.ORDERS.labels(order.venue, outcome).inc()

    def _lookup(self, order: repo.OrderRow, adapter: VenueAdapter) -> VenueOrder | None:
        """The venue's order, None when it positively does not know it; a failed query raises."""
        try:
            return adapter.fetch(order.symbol, order.client_order_id, conditional=order.conditional)
        except OrderNotFound:
            return None
        except VenueError as exc:
            raise OutcomePending(f"cannot ask the venue about {order.client_order_id}: {exc}") from None

    def _fetch_or_pending(self, order: repo.OrderRow, adapter: VenueAdapter) -> VenueOrder:
        found = self._lookup(order, adapter)
        if found is None:
            raise OutcomePending(f"venue says {order.client_order_id} is a duplicate but cannot find it; retrying")
        return found

    def _move(
        self, conn: psycopg.Connection, order: repo.OrderRow, trigger: Trigger, reason: str | None = None
    ) -> tuple[repo.OrderRow, list[OutboxRow]]:
        with conn.transaction():
            current = repo.by_id(conn, order.id, lock=True)
            return repo.transition(
                conn, current, trigger, actor=self.settings.actor, emitter=self.emitter, reason=reason
            )

    @staticmethod
    def _last_attempt(conn: psycopg.Connection, order: repo.OrderRow) -> datetime:
        r = conn.execute(
            "SELECT max(at) FROM order_events WHERE order_id = %s AND trigger IN ('SUBMIT', 'TIMEOUT')", (order.id,)
        ).fetchone()
        return r[0] if r and r[0] else order.created_at

    def _pre_trade_refusal(self, conn: psycopg.Connection, order: repo.OrderRow) -> str | None:
        now = datetime.now(UTC)
        if order.expires_at is not None and order.expires_at <= now:
            return f"EXPIRED_BEFORE_SUBMIT: the command expired at {order.expires_at.isoformat()}"
        if clock.is_entry(order.intent, order.reduce_only):
            unapproved = approvals.refusal(conn, order.command_id, order.quantity)
            if unapproved:
                return unapproved
            return clock.blocking_reason(
                clock.latest(conn, order.account), now=now, block_ms=self.settings.clock_block_ms
            )
        return None

    # --- applying the venue's truth ---------------------------------------------------

    def apply(
        self,
        conn: psycopg.Connection,
        order: repo.OrderRow,
        venue: VenueOrder,
        *,
        actor: str | None = None,
        run_id: str | None = None,
    ) -> list[OutboxRow]:
        """Record the venue's fills and status on the order (venue authoritative); one transaction."""
        actor = actor or self.settings.actor
        with conn.transaction():
            current = repo.by_id(conn, order.id, lock=True)
            if current.venue_order_id is None and venue.venue_order_id:
                conn.execute("UPDATE orders SET venue_order_id = %s WHERE id = %s", (venue.venue_order_id, order.id))
                current = replace(current, venue_order_id=venue.venue_order_id)
            new_fills, out_rows = repo.record_fills(conn, current, venue.trades, emitter=self.emitter)
            expired = current.expires_at is not None and current.expires_at <= datetime.now(UTC)
            triggers = triggers_for_venue(current.state, venue.status, new_fills=new_fills > 0, expired=expired)
            if run_id and new_fills:
                repo.audit(conn, run_id, current.account, "fill", {"new_fills": new_fills}, current.id)
            if not triggers and current.final and _final_disagrees(current.state, venue.status):
                log.error(
                    "venue and database disagree on a final order",
                    extra={"client_order_id": current.client_order_id, "db": current.state, "venue": venue.status},
                )
                if run_id:
                    repo.audit(
                        conn,
                        run_id,
                        current.account,
                        "conflict",
                        {"db": current.state, "venue": venue.status},
                        current.id,
                    )
            for trig in triggers:
                before = current.state
                current, out = repo.transition(
                    conn,
                    current,
                    trig,
                    actor=actor,
                    emitter=self.emitter,
                    venue_order_id=venue.venue_order_id,
                    venue_status=venue.raw_status,
                )
                out_rows += out
                if run_id:
                    repo.audit(
                        conn,
                        run_id,
                        current.account,
                        "transition",
                        {"from": before, "trigger": trig, "to": current.state, "venue": venue.raw_status},
                        current.id,
                    )
        return out_rows

    # --- cancel and amend ---------------------------------------------------------------

    def cancel(self, cmd: CancelOrder) -> list[OutboxRow]:
        """Cancel the target order (idempotent: a final target is left as it is). Returns once
        the cancel request is durable; a cancel whose venue outcome is pending is finished by
        the pending-outcome resolver, not by redeliveries."""
        target = self._target(cmd.target_command_id)
        _acct, adapter = self.book.get(target.account)
        with self._locked(target.client_order_id) as conn:
            return self._cancel_locked(
                conn, repo.by_id(conn, target.id), adapter, reason=cmd.reason or "canceled", requested_by=cmd.command_id
            )

    def _cancel_locked(
        self, conn: psycopg.Connection, order: repo.OrderRow, adapter: VenueAdapter, *, reason: str, requested_by: str
    ) -> list[OutboxRow]:
        """Record the cancel request (the caller holds the order's lock), then drive it as far
        as the venue lets us now; a pending outcome is left to the resolver."""
        if order.final:
            return []
        if order.state is S.NEW:  # never sent: nothing to ask the venue
            return self._move(conn, order, T.REJECT, reason=f"canceled before submission: {reason}")[1]
        with conn.transaction():
            repo.request_cancel(conn, order.id, requested_by, reason)
            request = repo.cancel_request(conn, order.id)
        assert request is not None
        try:
            return self._settle_cancel(conn, order, adapter, request)
        except OutcomePending as exc:
            log.warning(
                "cancel outcome pending; the request is durable and the executor resolves it",
                extra={"client_order_id": order.client_order_id, "requested_by": requested_by, "reason": str(exc)},
            )
            return []

    def _settle_cancel(
        self, conn: psycopg.Connection, order: repo.OrderRow, adapter: VenueAdapter, request: repo.CancelRequest
    ) -> list[OutboxRow]:
        """Bring a requested cancel to the venue exactly once per receive window; raises
        OutcomePending while the venue cannot tell us the order's fate.

        - SUBMITTED/UNKNOWN: the submission is resolved first (looked up, never re-sent);
          an order the venue positively does not know once the window passed is REJECTED.
        - A cancel already sent: the order is looked up before another is sent, and a second
          cancel leaves only when the venue still shows the order open after the window
          (a request older than the window can no longer be executed).
        """
        order = repo.by_id(conn, order.id)
        if order.final:
            return []
        if order.state is S.NEW:
            return self._move(conn, order, T.REJECT, reason=f"canceled before submission: {request.reason}")[1]
        out_rows: list[OutboxRow] = []
        now = datetime.now(UTC)
        if order.state in (S.SUBMITTED, S.UNKNOWN):
            found = self._lookup(order, adapter)
            if found is None:
                waited = (now - self._last_attempt(conn, order)).total_seconds()
                if waited < self.settings.resend_grace_s:
                    raise OutcomePending(
                        f"cannot cancel {order.client_order_id} yet: its submission is unresolved"
                        f" (final in {self.settings.resend_grace_s - waited:.1f}s)"
                    )
                reason = f"canceled before the venue had it: {request.reason}"
                return self._move(conn, order, T.REJECT, reason=reason[:500])[1]
            out_rows += self.apply(conn, order, found)
            order = repo.by_id(conn, order.id)
            if order.final:
                return out_rows
        elif request.sent_at is not None:  # a cancel left already: ask before sending another
            found = self._lookup(order, adapter)
            if found is None:
                raise OutcomePending(f"{order.client_order_id} is not found at the venue; the reconciler follows it")
            if found.status != "NEW":  # fills or a final status; "NEW" would only undo CANCELING
                out_rows += self.apply(conn, order, found)
                order = repo.by_id(conn, order.id)
                if order.final:
                    return out_rows
            waited = (now - request.sent_at).total_seconds()
            if waited < self.settings.resend_grace_s:
                raise OutcomePending(
                    f"cancel of {order.client_order_id} sent {waited:.1f}s ago and not confirmed; asked again"
                    f" after the receive window"
                )
            log.info("re-sending a cancel the venue did not execute", extra={"client_order_id": order.client_order_id})
        with conn.transaction():  # CANCELING and the send stamp are durable before the call
            order = repo.by_id(conn, order.id, lock=True)
            if order.state in (S.OPEN, S.PARTIALLY_FILLED):
                order, out = repo.transition(
                    conn,
                    order,
                    T.REQUEST_CANCEL,
                    actor=self.settings.actor,
                    emitter=self.emitter,
                    reason=request.reason,
                )
                out_rows += out
            repo.mark_cancel_sent(conn, order.id)
        try:
            answer = adapter.cancel(order.symbol, order.client_order_id, conditional=order.conditional)
        except OrderNotFound:  # unknown or already closed at the venue: its own record says which
            answer = self._fetch_or_pending(order, adapter)
        except VenueError as exc:
            found = self._lookup(order, adapter)
            if found is None or found.status in ("NEW", "PARTIALLY_FILLED"):
                if found is not None and found.status == "PARTIALLY_FILLED":
                    out_rows += self.apply(conn, order, found)
                raise OutcomePending(f"cancel of {order.client_order_id} not confirmed: {exc}") from None
            answer = found
        return out_rows + self.apply(conn, order, answer)

    def amend(self, cmd: AmendOrder, command: Envelope[Any]) -> list[OutboxRow]:
        """Cancel-replace: the replacement order (under the amend's own command id, so its own
        client order id) and the target's cancel request are committed together first; the
        replacement is placed only once the target is final, with the target's remaining
        quantity unless the amend names one. A target that filled first is not replaced. A
        pending cancel or replacement is finished by the pending-outcome resolver. An amend asking
        for more of an entry than the risk guardian approved is refused, its target untouched."""
        target = self._target(cmd.target_command_id)
        acct, adapter = self.book.get(target.account)
        cid = client_order_id(cmd.command_id)
        reason = f"amended by {cmd.command_id}"
        out_rows: list[OutboxRow] = []
        with self._locked(target.client_order_id) as conn:
            target = repo.by_id(conn, target.id)
            refused = (
                approvals.enlarging(conn, cmd.command_id, target.command_id, cmd.quantity)
                if clock.is_entry(target.intent, target.reduce_only)
                else None
            )
            with conn.transaction():  # both halves of the intent, durable before anything is sent
                repo.insert_order_once(
                    conn,
                    _replacement(cmd, target),
                    command,
                    client_order_id=cid,
                    mode=acct.mode,
                    replaces=target.command_id,
                    remaining_of_target=cmd.quantity is None,
                )
                if refused is None and not target.final and target.state is not S.NEW:
                    repo.request_cancel(conn, target.id, cmd.command_id, reason)
            if refused is None:
                out_rows += self._cancel_locked(conn, target, adapter, reason=reason, requested_by=cmd.command_id)
        with self._locked(cid) as conn:
            order = repo.by_command(conn, cmd.command_id)
            assert order is not None
            if refused is not None and order.state is S.NEW:
                return out_rows + self._move(conn, order, T.REJECT, reason=refused)[1]
            try:
                return out_rows + self._drive(conn, order, adapter)
            except OutcomePending as exc:
                log.warning(
                    "replacement pending; the executor places or resolves it",
                    extra={"client_order_id": cid, "reason": str(exc)},
                )
                return out_rows

    def _replacement_gate(self, conn: psycopg.Connection, order: repo.OrderRow) -> list[OutboxRow] | None:
        """A NEW replacement goes ahead (None) only once its target is final: never two live
        orders for one amend. A target that filled leaves nothing to replace (REJECTED)."""
        assert order.replaces_command_id is not None
        target = repo.by_command(conn, order.replaces_command_id)
        if target is None or not target.final:
            raise OutcomePending(f"replacement {order.client_order_id} waits for its target's cancel")
        filled, _avg, _fee = repo.fill_totals(conn, target.id)
        remaining = target.quantity - filled
        if target.state is S.FILLED or (order.remaining_of_target and remaining <= 0):
            return self._move(conn, order, T.REJECT, reason="AMEND_TARGET_FILLED: nothing left to replace")[1]
        if order.remaining_of_target and remaining != order.quantity:
            conn.execute("UPDATE orders SET quantity = %s WHERE id = %s AND state = 'NEW'", (remaining, order.id))
        return None

    def _target(self, command_id: str) -> repo.OrderRow:
        with self.pool.connection() as conn:
            target = repo.by_command(conn, command_id)
        if target is None:
            raise TargetNotKnown(f"no order for command {command_id} yet (the command may still be on its way)")
        return target


def _replacement(cmd: AmendOrder, target: repo.OrderRow) -> ExecuteTrade:
    """The amend's replacement order; without a quantity of its own it is sized at placement."""
    return ExecuteTrade(
        command_id=cmd.command_id,
        account=target.account,
        venue=target.venue,
        symbol=target.symbol,
        side=target.side,
        order_type=target.order_type,
        quantity=cmd.quantity or target.quantity,  # type: ignore[arg-type]
        limit_price=cmd.limit_price or target.limit_price,
        stop_price=cmd.stop_price or target.stop_price,
        reduce_only=target.reduce_only,
        time_in_force=target.time_in_force,
        strategy_id=target.strategy_id,  # type: ignore[arg-type]
        intent=target.intent,
        expires_at=target.expires_at,
        activation_price=target.activation_price,  # type: ignore[arg-type]
        callback_rate=target.callback_rate,
    )


def _final_disagrees(state: OrderState, venue_status: str) -> bool:
    expected = {
        S.FILLED: {"FILLED"},
        S.CANCELED: {"CANCELED"},
        S.EXPIRED: {"EXPIRED", "CANCELED"},
        S.REJECTED: {"REJECTED"},
    }
    return venue_status not in expected.get(state, set()) and venue_status not in ("NEW",)
