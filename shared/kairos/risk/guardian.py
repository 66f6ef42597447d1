"""The risk guardian's decision: one order intent -> an approved ``cmd.execute_trade`` or a
``risk.rejected``, plus the ``risk.alert`` events the decision raised.

All of it happens in the delivery's transaction, in this order:

1. A decision already taken for the intent id (a replay) is not taken again: nothing is emitted.
2. An intent that reduces (an exit) is approved at once: nothing ever blocks closing risk.
3. Hard failures, each a rejection: the account is not a LIVE/SHADOW account, an executor
   is RECOVERING (or none ever said), the clock guard blocks entries on the account, a
   strategy stop is set, the symbol's mark price is missing or older than the configured age.
4. Kill switches of the intent's scopes (global, account, strategy).
5. The lock rows of the intent's scopes (``SELECT ... FOR UPDATE``, global first), then every
   limit in force of those scopes against the scope's positions, reservations and daily PnL
   *after* this order. A value equal to its limit passes; above it is rejected (the daily loss:
   reaching the limit is the breach, and it engages that scope's kill switch).
6. Approved: the approval row (the executor's proof, and the reservation of the notional)
   and the command, in the same transaction as the decision, so two intents deciding at the
   same instant serialise on the scope's row and never share the same headroom.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import Envelope, derive_event, new_event
from kairos.contracts.risk import RiskAlert, RiskRejected
from kairos.contracts.strategies import OrderIntent
from kairos.execution import clock
from kairos.portfolio import ledger
from kairos.risk import codes, decision, exposure, limits
from kairos.venues import registry

log = logging.getLogger("kairos.risk")

ALERT_AT = decision.ALERT_AT

# Whether the intent was decided before, every hard-failure input, the kill switches and the
# limits in force of the intent's scopes, in one statement (one round trip). The limits are
# ``value|name|kind|id`` texts: exact decimals, and an id may hold any character.
_INPUTS = """
SELECT
  (SELECT true FROM risk_decisions WHERE intent_id = %(intent)s),
  (SELECT array_agg(value::text || '|' || limit_name || '|' || scope_kind || '|' || scope_id)
      FROM risk_limits_current WHERE value IS NOT NULL
      AND (scope_kind, scope_id) IN (('global', '*'), ('account', %(account)s), ('strategy', %(strategy)s))),
  (SELECT mode FROM exec_accounts WHERE account = %(account)s),
  (SELECT count(*) FROM execution_health),
  (SELECT function || ' since ' || updated_at FROM execution_health WHERE state = 'RECOVERING'
      AND updated_at > %(now)s - make_interval(secs => %(age)s) ORDER BY updated_at LIMIT 1),
  c.offset_ms, c.rtt_ms, c.measured_at,
  (SELECT scope || ': ' || reason FROM strategy_control WHERE stopped AND scope IN ('all', %(strategy)s)
      ORDER BY scope LIMIT 1),
  m.price, m.observed_at,
  (SELECT scope_kind || '|' || scope_id || '|' || reason FROM risk_kill_switches WHERE engaged
      AND (scope_kind, scope_id) IN (('global', '*'), ('account', %(account)s), ('strategy', %(strategy)s))
      ORDER BY scope_kind LIMIT 1)
FROM (SELECT 1) one
LEFT JOIN venue_clock c ON c.venue_key = %(account)s
LEFT JOIN mark_prices m ON m.venue = %(venue)s AND m.symbol = %(symbol)s
"""


_APPROVAL = """
WITH approval AS (
  INSERT INTO risk_approvals (command_id, intent_id, account, venue, symbol, strategy_id, side, quantity, price,
                              increases, opens_position, decided_at)
  VALUES (%(cmd)s, %(intent)s, %(account)s, %(venue)s, %(symbol)s, %(strategy_id)s, %(side)s, %(quantity)s,
          %(price)s, %(increases)s, %(opens)s, %(now)s))
"""
_DECISION = """
INSERT INTO risk_decisions (intent_id, command_id, account, strategy_id, symbol, outcome, reason_code, details,
                            decided_at)
VALUES (%(intent)s, %(cmd)s, %(account)s, %(strategy_id)s, %(symbol)s, %(outcome)s, %(code)s, %(details)s, %(now)s)
"""


@dataclass(frozen=True)
class GuardianSettings:
    price_max_age_s: float = 30.0
    executor_state_max_age_s: float = 600.0  # a RECOVERING row older than this is a process that died
    source: str = "/kairos/risk-guardian"
    actor: str = "risk-guardian"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GuardianSettings:
        return cls(price_max_age_s=float(env.get("KAIROS_RISK_PRICE_MAX_AGE_S", "30")))


@dataclass
class Decision:
    approved: bool
    command: ExecuteTrade | None = None
    rejection: RiskRejected | None = None
    alerts: list[RiskAlert] = field(default_factory=list)
    duplicate: bool = False


class Rejected(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        scope: limits.Scope | None = None,
        observed: Decimal | None = None,
        limit: Decimal | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.scope, self.observed, self.limit = code, message, scope, observed, limit


def command_id(intent: OrderIntent) -> str:
    """``ex-`` + the intent id's hash part: deterministic, within the command id's 64 characters."""
    return "ex-" + intent.intent_id.split("-", 1)[-1]


def lot_quantity(intent: OrderIntent) -> tuple[Decimal, Decimal]:
    """The intent's quantity rounded down to the market's step (a strategy sizes in exact
    decimals; the venue takes whole steps), and the market's minimum quantity (0 if unknown)."""
    try:
        spec = registry.definition(intent.venue).market(intent.symbol)
    except registry.UnknownVenue:
        spec = None
    if spec is None:
        return intent.quantity, Decimal(0)
    return decision.lot(intent.quantity, spec.step_size), spec.min_qty


def to_command(intent: OrderIntent, quantity: Decimal | None = None) -> ExecuteTrade:
    return ExecuteTrade(
        command_id=command_id(intent), account=intent.account, venue=intent.venue, symbol=intent.symbol,
        side=intent.side, order_type="market", quantity=quantity or intent.quantity,
        reduce_only=intent.reduce_only,
        strategy_id=intent.strategy_id, intent="exit" if intent.kind == "exit" else "entry",
        client_tag=intent.intent_id[:64],
    )  # fmt: skip


def scopes_of(intent: OrderIntent) -> list[limits.Scope]:
    return [("global", limits.GLOBAL_ID), ("account", intent.account), ("strategy", intent.strategy_id)]


def lock_scopes(conn: psycopg.Connection, scopes: list[limits.Scope]) -> None:
    """Row locks on the scopes, always taken in the same (sorted) order: no deadlock. A scope
    seen for the first time gets its row first, before any lock is held: a decision holding the
    global row while it waited for another's uncommitted row of a new scope, which waits for
    the global row, would deadlock. So the first statement locks only when every row exists."""
    keys = sorted(exposure.scope_key(*s) for s in scopes)
    lock = "SELECT scope FROM risk_scope_locks WHERE scope = ANY(%(k)s) ORDER BY scope FOR UPDATE"
    every = " AND (SELECT count(*) FROM risk_scope_locks WHERE scope = ANY(%(k)s)) = cardinality(%(k)s::text[])"
    if not conn.execute(lock.replace(" ORDER BY", every + " ORDER BY"), {"k": keys}).fetchall():
        conn.execute("INSERT INTO risk_scope_locks (scope) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (keys,))
        conn.execute(lock, {"k": keys})


def _alert(
    severity: str,
    code: str,
    message: str,
    scope: limits.Scope,
    *,
    alert_id: str,
    name: str | None = None,
    observed: Decimal | None = None,
    limit: Decimal | None = None,
    account: str | None = None,
    strategy_id: str | None = None,
    now: datetime,
) -> RiskAlert:
    return RiskAlert(alert_id=alert_id, severity=severity, code=code, message=message,  # type: ignore[arg-type]
                     scope_kind=scope[0], scope_id=scope[1], limit_name=name, observed=observed, limit=limit,  # type: ignore[arg-type]
                     account=account, strategy_id=strategy_id, at=now)  # fmt: skip


def _once(conn: psycopg.Connection, alert: RiskAlert) -> bool:
    r = conn.execute(
        "INSERT INTO risk_alert_log (alert_id) VALUES (%s) ON CONFLICT DO NOTHING RETURNING 1", (alert.alert_id,)
    ).fetchone()
    return r is not None


class Guardian:
    """Gathers the numbers a decision reads (under the scope locks) and records its outcome; the
    decision itself is ``kairos.risk.decision.decide``, the same function the backtest calls."""

    def __init__(self, settings: GuardianSettings | None = None) -> None:
        self.settings = settings or GuardianSettings()

    # --- the decision ------------------------------------------------------------------

    def decide(self, conn: psycopg.Connection, intent: OrderIntent, now: datetime | None = None) -> Decision:
        now = now or datetime.now(UTC)
        increases = intent.kind != "exit"
        qty, min_qty = lot_quantity(intent)
        scopes = scopes_of(intent)
        common: dict[str, Any] = {"increases": increases, "requested": intent.quantity, "quantity": qty,
                                  "min_qty": min_qty, "scopes": scopes}  # fmt: skip
        hard = decision.Hard()
        verdict = decision.decide(**common, hard=None, opens=False, limits={}, states={})
        opens = False
        if increases and verdict.approved:
            # the replay check and the hard failures first (one statement), the scope locks and
            # the books only when they pass
            seen, hard, by_scope = self._hard_inputs(conn, intent, now)
            if seen:
                return Decision(approved=False, duplicate=True)
            verdict = decision.decide(**common, hard=hard, opens=False, limits={}, states={})
            if verdict.approved:
                lock_scopes(conn, scopes)
                assert hard.price is not None
                states, opens = self._gather(conn, intent, scopes, by_scope, hard.price, now)
                verdict = decision.decide(**common, hard=hard, opens=opens, limits=by_scope, states=states)
        elif conn.execute("SELECT 1 FROM risk_decisions WHERE intent_id = %s", (intent.intent_id,)).fetchone():
            return Decision(approved=False, duplicate=True)
        alerts = [self._near(scope, name, after, limit, intent, now) for scope, name, after, limit in verdict.near]
        if verdict.breach is not None:
            scope, loss, limit = verdict.breach
            alerts.extend(breach(conn, scope, loss, limit, now, actor=self.settings.actor))
        if not verdict.approved:
            assert verdict.code is not None
            rej = Rejected(verdict.code, verdict.message, scope=verdict.scope, observed=verdict.observed,
                           limit=verdict.limit)  # fmt: skip
            return self._reject(conn, intent, rej, verdict.values, alerts, now)
        qty = verdict.quantity
        price = hard.price if hard.price is not None else intent.price_reference
        cmd = to_command(intent, qty)
        approval = {"account": intent.account, "venue": intent.venue, "symbol": intent.symbol,
                    "strategy_id": intent.strategy_id, "side": intent.side, "quantity": qty, "price": price,
                    "increases": increases, "opens": opens}  # fmt: skip
        self._record(conn, intent, "approved", None, cmd.command_id, verdict.values, now, approval=approval)
        return Decision(approved=True, command=cmd, alerts=[a for a in alerts if _once(conn, a)])

    def _reject(
        self,
        conn: psycopg.Connection,
        intent: OrderIntent,
        rej: Rejected,
        values: dict[str, Any],
        alerts: list[RiskAlert],
        now: datetime,
    ) -> Decision:
        scope = rej.scope
        rejection = RiskRejected(
            intent_id=intent.intent_id, strategy_id=intent.strategy_id, account=intent.account, venue=intent.venue,
            symbol=intent.symbol, side=intent.side, kind=intent.kind, quantity=intent.quantity, reason_code=rej.code,
            message=rej.message, scope_kind=scope[0] if scope else None, scope_id=scope[1] if scope else None,  # type: ignore[arg-type]
            observed=rej.observed, limit=rej.limit, values={k: _wire(v) for k, v in values.items()}, decided_at=now,
        )  # fmt: skip
        self._record(conn, intent, "rejected", rej.code, None, {**values, "message": rej.message}, now)
        if rej.code in codes.LIMIT_CODES.values() and scope is not None:
            alerts.append(_alert("HIGH", rej.code, f"intent {intent.intent_id} rejected: {rej.message}", scope,
                                 alert_id=f"risk-rej-{intent.intent_id}", observed=rej.observed, limit=rej.limit,
                                 account=intent.account, strategy_id=intent.strategy_id, now=now))  # fmt: skip
        log.info(
            "intent rejected", extra={"intent_id": intent.intent_id, "reason_code": rej.code, "reason": rej.message}
        )
        return Decision(approved=False, rejection=rejection, alerts=[a for a in alerts if _once(conn, a)])

    @staticmethod
    def _record(
        conn: psycopg.Connection,
        intent: OrderIntent,
        outcome: str,
        code: str | None,
        cmd_id: str | None,
        values: dict[str, Any],
        now: datetime,
        *,
        approval: dict[str, Any] | None = None,
    ) -> None:
        """The decision row; approved, with the approval row (the executor's proof and the
        reservation) in the same statement."""
        params = {"intent": intent.intent_id, "cmd": cmd_id, "account": intent.account,
                  "strategy_id": intent.strategy_id, "symbol": intent.symbol, "outcome": outcome, "code": code,
                  "details": Jsonb({k: _wire(v) for k, v in values.items()}), "now": now,
                  **(approval or {})}  # fmt: skip
        conn.execute((_APPROVAL if approval is not None else "") + _DECISION, params)

    # --- the numbers ---------------------------------------------------------------------

    def _hard_inputs(
        self, conn: psycopg.Connection, intent: OrderIntent, now: datetime
    ) -> tuple[bool, decision.Hard, dict[limits.Scope, dict[str, Decimal]]]:
        """Whether the intent was decided before, every hard-failure input and the kill switches
        and limits in force of the intent's scopes, in one statement."""
        r = conn.execute(_INPUTS, {
            "intent": intent.intent_id, "account": intent.account, "strategy": intent.strategy_id,
            "venue": intent.venue, "symbol": intent.symbol, "now": now, "age": self.settings.executor_state_max_age_s,
        }).fetchone()  # fmt: skip
        assert r is not None
        seen, in_force, mode, executors, recovering, offset, rtt, measured_at, stop, price, observed_at, switch = r
        by_scope: dict[limits.Scope, dict[str, Decimal]] = {}
        for text in in_force or ():
            value, name, kind, scope_id = text.split("|", 3)
            by_scope.setdefault((kind, scope_id), {})[name] = Decimal(value)
        reading = clock.ClockReading(Decimal(offset), Decimal(rtt), measured_at) if measured_at else None
        kind_id_reason = tuple(switch.split("|", 2)) if switch else None
        return bool(seen), decision.Hard(
            account=intent.account, venue=intent.venue, symbol=intent.symbol,
            account_known=mode is not None, executor_unknown=not executors, executor_state=recovering,
            clock_block=clock.blocking_reason(reading, now=now), strategy_stop=stop,
            price=Decimal(price) if price is not None else None,
            price_age_s=Decimal(str(round((now - observed_at).total_seconds(), 3))) if price is not None else None,
            price_max_age_s=Decimal(str(self.settings.price_max_age_s)),
            kill_switch=kind_id_reason,  # type: ignore[arg-type]
        ), by_scope  # fmt: skip

    def _gather(
        self,
        conn: psycopg.Connection,
        intent: OrderIntent,
        scopes: list[limits.Scope],
        by_scope: dict[limits.Scope, dict[str, Decimal]],
        price: Decimal,
        now: datetime,
    ) -> tuple[dict[limits.Scope, decision.ScopeState], bool]:
        """For each scope with limits in force (``by_scope``), the numbers they read; and whether
        the order opens a position in the account."""
        key = (intent.venue, intent.symbol)
        # every book the decision reads, in one statement (the account's always: it says whether the order opens)
        wanted = [s for s in scopes if s[0] != "account" and decision.needs_state(by_scope.get(s, {}))]
        read = [("account", intent.account), *wanted]
        books = exposure.read_many(conn, read, upkeep=[s for s in scopes if s not in read])
        account_book = books[("account", intent.account)]
        opens = key not in account_book.positions and key not in account_book.reserved
        daily = [s for s in scopes if "max_daily_loss" in by_scope.get(s, {})]
        pnls = ledger.daily_pnls(conn, [_selection(s) for s in daily], now=now) if daily else []
        days = dict(zip(daily, pnls, strict=True))
        states: dict[limits.Scope, decision.ScopeState] = {}
        for scope in scopes:
            mine = by_scope.get(scope)
            if not mine:
                continue
            fields: dict[str, Any] = {}
            if decision.needs_state(mine):
                book = books[scope]
                marks, missing = self._marks(conn, book, key, price)
                if missing:
                    fields["missing_marks"] = missing
                else:
                    fields.update(
                        symbol_exposure=book.symbol_exposure(key, marks), total_exposure=book.total_exposure(marks),
                        open_positions=book.open_positions + book.reserved_opens,
                        orders_last_minute=book.orders_last_minute,
                    )  # fmt: skip
            if "max_daily_loss" in mine:
                day = days[scope]
                fields["daily_missing_marks"] = day.missing_marks
                fields["daily_loss"] = max(Decimal(0), -day.total)
            states[scope] = decision.ScopeState(**fields)
        return states, opens

    @staticmethod
    def _marks(
        conn: psycopg.Connection, book: exposure.ScopeBook, key: tuple[str, str], price: Decimal
    ) -> tuple[dict[tuple[str, str], Decimal], list[str]]:
        """The marks of every symbol the scope holds, and the held symbols without one (which
        cannot be valued)."""
        held = sorted(book.positions)
        marks: dict[tuple[str, str], Decimal] = {key: price}
        if held:
            rows = conn.execute(
                "SELECT venue, symbol, price FROM mark_prices"
                " WHERE (venue, symbol) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                ([v for v, _ in held], [s for _, s in held]),
            ).fetchall()
            marks.update({(v, s): Decimal(p) for v, s, p in rows})
            marks[key] = price
        return marks, [k[1] for k in held if k not in marks]

    @staticmethod
    def _near(
        scope: limits.Scope, name: str, after: Decimal, limit: Decimal, intent: OrderIntent | None, now: datetime
    ) -> RiskAlert:
        hour = now.strftime("%Y%m%dT%H")
        return _alert("MEDIUM", "LIMIT_NEAR", f"{name} of {scope[0]} {scope[1]} at {after} of {limit} (>= 80 %)",
                      scope, alert_id=f"risk-near-{scope[0]}-{scope[1]}-{name}-{hour}"[:96], name=name,
                      observed=after, limit=limit, account=intent.account if intent else None,
                      strategy_id=intent.strategy_id if intent else None, now=now)  # fmt: skip


def _selection(scope: limits.Scope) -> tuple[str | None, str | None]:
    """The scope as a daily-PnL selection: (account or None, strategy or None)."""
    return (scope[1] if scope[0] == "account" else None, scope[1] if scope[0] == "strategy" else None)


def daily_pnl_of(conn: psycopg.Connection, scope: limits.Scope, now: datetime) -> ledger.DailyPnl:
    account, strategy_id = _selection(scope)
    return ledger.daily_pnl(conn, account=account, strategy_id=strategy_id, now=now)


def breach(
    conn: psycopg.Connection, scope: limits.Scope, loss: Decimal, limit: Decimal, now: datetime, *, actor: str
) -> list[RiskAlert]:
    """Engage the scope's kill switch on a daily-loss breach; the CRITICAL alert when it was not engaged."""
    reason = f"daily loss {loss} reached max_daily_loss {limit} ({now.date().isoformat()} UTC)"
    if not limits.engage(conn, scope[0], scope[1], actor=actor, reason=reason):
        return []
    log.warning(
        "kill switch engaged by a daily-loss breach", extra={"scope": f"{scope[0]}:{scope[1]}", "loss": str(loss)}
    )
    return [_alert("CRITICAL", "KILL_SWITCH_ENGAGED", f"kill switch {scope[0]} {scope[1]} engaged: {reason}", scope,
                   alert_id=f"risk-kill-{scope[0]}-{scope[1]}-{now.strftime('%Y%m%dT%H%M%S%f')}"[:96],
                   name="max_daily_loss", observed=loss, limit=limit,
                   account=scope[1] if scope[0] == "account" else None,
                   strategy_id=scope[1] if scope[0] == "strategy" else None, now=now)]  # fmt: skip


def watch(conn: psycopg.Connection, now: datetime | None = None, *, actor: str = "risk-guardian") -> list[RiskAlert]:
    """Between intents (a fill, a cron tick): every daily-loss limit in force against its scope's
    PnL now; a breach engages the kill switch (CRITICAL), 80 % raises MEDIUM once an hour."""
    now = now or datetime.now(UTC)
    out: list[RiskAlert] = []
    for lim in limits.current(conn):
        if lim.name != "max_daily_loss":
            continue
        scope = (lim.scope_kind, lim.scope_id)
        day = daily_pnl_of(conn, scope, now)
        loss = max(Decimal(0), -day.total)
        if loss >= lim.value:
            out.extend(breach(conn, scope, loss, lim.value, now, actor=actor))
        elif lim.value > 0 and loss >= lim.value * ALERT_AT:
            near = Guardian._near(scope, lim.name, loss, lim.value, None, now)
            if _once(conn, near):
                out.append(near)
    return out


def _wire(v: Any) -> Any:
    return str(v) if isinstance(v, Decimal) else v


# --- events ----------------------------------------------------------------------------


def events(cause: Envelope[Any], decision: Decision, source: str) -> list[Envelope[Any]]:
    out: list[Envelope[Any]] = []
    if decision.command is not None:
        c = decision.command
        out.append(derive_event(cause, c, source=source, partition_key=f"{c.account}|{c.symbol}"))
    if decision.rejection is not None:
        r = decision.rejection
        out.append(derive_event(cause, r, source=source, partition_key=f"{r.account}|{r.symbol}", index=1))
    out.extend(alert_events(decision.alerts, source, cause))
    return out


def alert_events(alerts: list[RiskAlert], source: str, cause: Envelope[Any] | None = None) -> list[Envelope[Any]]:
    return [new_event(a, source=source, partition_key=f"{a.scope_kind}:{a.scope_id}", event_id=a.alert_id,
                      correlation_id=cause.meta.correlation_id if cause else None,
                      causation_id=cause.meta.id if cause else None) for a in alerts]  # fmt: skip
