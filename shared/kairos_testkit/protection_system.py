"""The positions system in one process: executor, reconciler, portfolio, position-sync,
position-scheduler and slo-monitor as real function objects on a real Postgres and broker,
the executor talking to the venue simulator through real ccxt.

Delivery is the test's own pump: it reads the shared outbox in id order and hands every row to
the functions whose catalog subscriptions name its topic, as KafkaSource would (again after
each 5xx). So every hop is the production handler path, and a test decides when time passes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from cloudevents.core.v1.event import CloudEvent
from kairos.bus.kafka import ensure_catalog_topics
from kairos.catalog import load_catalog
from kairos.contracts.codec import KafkaRecord, kafka_to_cloudevent, to_cloudevent
from kairos.contracts.envelope import new_event
from kairos.contracts.ops import PingTick
from kairos.execution.pending import PENDING_STATES
from kairos.runtime.function import KairosFunction

from kairos_testkit.execution import ACCOUNT, KEK, SYMBOL, command, exec_env, setup_account
from kairos_testkit.functions import in_process, runtime_env

PROTECTION = {"default": {"take_profits": [{"distance_pct": "1", "fraction": "1"}], "stop_loss": {"distance_pct": "1"}}}
TWO_TP = {"default": {"take_profits": [{"distance_pct": "1", "fraction": "0.5"},
                                       {"distance_pct": "2", "fraction": "0.5"}],
                      "stop_loss": {"distance_pct": "1"}}}
# How long a pump waits for the executor's resolver to finish orders of pending outcome
# (it looks every 2 s at orders older than 1 s; a lost reply holds the venue's answer 1.5 s).
PENDING_SETTLE_S = 15.0
FUNCTIONS = ("executor", "reconciler", "portfolio", "position-sync", "position-scheduler", "slo-monitor")


class System:
    def __init__(self, database_url: str, fns: dict[str, KairosFunction]) -> None:
        self.url = database_url
        self.fns = fns
        self.last = 0
        self.later: list[Any] = []  # outbox rows held back by their writer, not due yet
        self._conn: psycopg.Connection[Any] | None = None
        catalog = load_catalog()
        self.routes: dict[str, list[str]] = {}
        for fn in catalog.functions:
            for sub in fn.subscriptions:
                self.routes.setdefault(sub.topic, []).append(fn.name)

    def deliver(self, name: str, ce: CloudEvent, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            outcome = self.fns[name].process(ce)
            if outcome.status < 500 or time.monotonic() > deadline:
                assert outcome.status < 300, f"{name} answered {outcome.status}: {outcome.reason}"
                return outcome.status
            time.sleep(0.2)

    def pump(self, max_rows: int = 100_000, hold: frozenset[tuple[str, str]] = frozenset(),
             release: bool = False) -> int:
        """Deliver every outbox row written since the last pump (and what they cause) until quiet.

        ``hold``: (function, topic) pairs not delivered now (a delayed delivery the test makes later).
        A row held back by its writer (``not_before`` still ahead: the scheduler's spreading, a new
        position's emergency check) waits, as the publisher keeps it, and goes out in a later
        pump once due; ``release=True`` delivers those at once (the test lets the time pass).
        """
        handled = 0
        settle_until = time.monotonic() + PENDING_SETTLE_S
        while handled < max_rows:
            rows = self.ready_rows(release)
            if not rows:
                # The executor acknowledges a command whose order outcome is pending and its
                # background resolver finishes the order: quiet means none is left pending
                # (or the resolver had its time: a test may keep the venue silent on purpose).
                if self.pending_orders() and time.monotonic() < settle_until:
                    time.sleep(0.2)
                    continue
                return handled
            for row in rows:
                handled += self._deliver_row(row, hold)
        return handled

    def pending_orders(self) -> int:
        """Orders SUBMITTED or UNKNOWN: the executor's resolver has not finished them yet."""
        rows = self._read("SELECT count(*) FROM orders WHERE state = ANY(%s)", ([str(s) for s in PENDING_STATES],))
        return int(rows[0][0]) if rows else 0

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """A read on one autocommit connection kept for the pump (each statement sees the latest
        commits); a pump that finds nothing is two such reads, and a connection per read was most of
        its time. A dropped connection is opened again once."""
        try:
            return self._connection().execute(sql, params).fetchall()
        except psycopg.OperationalError:
            self.close()
            return self._connection().execute(sql, params).fetchall()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def ready_rows(self, release: bool = False, limit: int = 500) -> list[Any]:
        """The outbox rows to deliver now, in order: held-back rows that became due, then the rows
        written since the last call that are not held back (the others wait in ``self.later``).
        ``release``: every held-back row is due (the caller lets the time pass)."""
        now = datetime.now(UTC)
        due = [r for r in self.later if release or r[-1] <= now]
        self.later = [r for r in self.later if not (release or r[-1] <= now)]
        fresh = self._read("SELECT id, topic, record_key, headers, value, not_before FROM outbox"
                           " WHERE id > %s ORDER BY id LIMIT %s", (self.last, limit))
        if fresh:
            self.last = fresh[-1][0]
        self.later += [r for r in fresh if not release and r[-1] is not None and r[-1] > now]
        return due + [r for r in fresh if release or r[-1] is None or r[-1] <= now]

    def _deliver_row(self, row: Any, hold: frozenset[tuple[str, str]]) -> int:
        _rid, topic, key, headers, value, _not_before = row
        hdrs = tuple((str(k), str(v).encode()) for k, v in headers)
        ce = kafka_to_cloudevent(KafkaRecord(bytes(key) if key else None, bytes(value), hdrs))
        for name in self.routes.get(topic, []):
            if name in self.fns and (name, topic) not in hold:
                self.deliver(name, ce)
        return 1

    def redeliver(self, name: str, event_type: str, contains: str) -> None:
        """Deliver again (late) the outbox rows of ``event_type`` whose payload contains ``contains``."""
        with psycopg.connect(self.url) as conn:
            rows = conn.execute("SELECT record_key, headers, value FROM outbox WHERE event_type = %s ORDER BY id",
                                (event_type,)).fetchall()
        for key, headers, value in rows:
            if contains.encode() in bytes(value):
                hdrs = tuple((str(k), str(v).encode()) for k, v in headers)
                self.deliver(name, kafka_to_cloudevent(KafkaRecord(bytes(key) if key else None, bytes(value), hdrs)))

    def tick(self, name: str, **args: Any) -> None:
        """One cron tick (fresh time, so a fresh slot for the inbox)."""
        tick = new_event(PingTick(job=name, args=args or None), source=f"/tests/cron/{name}", partition_key=name)
        self.deliver(name, to_cloudevent(tick))

    def sync_open(self) -> None:
        """An operator's immediate sync of every open position: a fresh command each call (the
        scheduler's commands are one per position and minute, so a second tick dedupes)."""
        from kairos.portfolio.projection import sync_command

        cause = new_event(PingTick(job="operator-sync"), source="/tests/operator", partition_key="operator")
        for p in self.positions():
            if p["status"] != "CLOSED":
                sync = sync_command(cause, p["position_id"], "/tests", "operator")
                self.deliver("position-sync", to_cloudevent(sync))

    def enter(self, quantity: str = "0.010", side: str = "buy", command_id: str | None = None,
              account: str = ACCOUNT, symbol: str = SYMBOL) -> str:
        """An entry order as the risk stage would send it; returns its command id."""
        env = command(quantity=quantity, side=side, command_id=command_id, account=account, symbol=symbol)
        self.deliver("executor", to_cloudevent(env))
        return env.data.command_id

    def settle(self, rounds: int = 6) -> None:
        """Pump until quiet, reconcile (the executor learns of conditional fills there), repeat."""
        for _ in range(rounds):
            self.pump()
            self.tick("reconciler")
            if self.pump() == 0:
                return

    # --- reading the truth ---------------------------------------------------------

    def positions(self) -> list[dict[str, Any]]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute("SELECT projection, unprotected_since, protected_at, last_sync_outcome FROM positions"
                                " ORDER BY opened_at").fetchall()
        return [{**r[0], "unprotected_since": r[1], "protected_at": r[2], "outcome": r[3]} for r in rows]

    def orders(self, kind: str | None = None, active: bool | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT l.kind, l.tp_level, o.state, o.quantity, o.stop_price, o.command_id, o.client_order_id"
               " FROM position_protective_orders l JOIN orders o ON o.command_id = l.command_id")
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(sql + " ORDER BY o.id").fetchall()
        out = [dict(zip(("kind", "level", "state", "quantity", "stop", "command_id", "cid"), r, strict=True))
               for r in rows]
        if kind is not None:
            out = [o for o in out if o["kind"] == kind]
        if active is not None:
            final = {"FILLED", "CANCELED", "REJECTED", "EXPIRED"}
            out = [o for o in out if (o["state"] not in final) == active]
        return out

    def outbox(self, event_type: str) -> list[dict[str, Any]]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute("SELECT value FROM outbox WHERE event_type = %s ORDER BY id", (event_type,)).fetchall()
        return [json.loads(bytes(r[0])) for r in rows]


def venue_algos(sim: Any, status: str | None = "NEW") -> list[dict[str, Any]]:
    algos = sim.control.orders()["algo_orders"]
    return [a for a in algos if status is None or a["status"] == status]


def venue_position(sim: Any, account_key: str | None = None) -> Decimal:
    data = sim.control.positions()
    accounts = data if isinstance(data, list) else [data]
    for acct in accounts:
        for p in acct.get("positions", []):
            if p.get("symbol") == "BTCUSDT":
                return Decimal(str(p.get("amount", "0")))
    return Decimal(0)


def register_accounts(database_url: str, sim: Any, seeds: list[tuple[str, str, str]]) -> None:
    """More LIVE accounts on the simulator: (account, api key, secret) each (one-way mode allows
    one position per account and symbol, so many positions need many accounts)."""
    from kairos.execution import accounts
    from kairos.execution.vault import Credentials, KeyVault

    vault = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": KEK})
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name, key, secret in seeds:
            accounts.register(conn, vault, name, venue="binanceusdm", mode="live", base_url=sim.base_url,
                              creds=Credentials(key, secret))


@contextmanager
def system(database_url: str, bootstrap: str, sim: Any, protection: dict[str, Any] | None = None,
           names: tuple[str, ...] = FUNCTIONS, mode: str = "live", seeds: list[tuple[str, str, str]] | None = None,
           **extra: str) -> Iterator[System]:
    setup_account(database_url, sim, mode=mode)
    if seeds:
        register_accounts(database_url, sim, seeds)
    ensure_catalog_topics(bootstrap)
    env = {**exec_env(database_url), **runtime_env(database_url, bootstrap),
           "KAIROS_POSITIONS_PROTECTION": json.dumps(protection if protection is not None else PROTECTION),
           **extra}
    with ExitStack() as stack:
        fns = {name: stack.enter_context(in_process(name, env)) for name in names}
        s = System(database_url, fns)
        stack.callback(s.close)
        yield s


__all__ = ["ACCOUNT", "SYMBOL", "TWO_TP", "System", "system", "venue_algos", "venue_position"]
