"""``KairosFunction``: the func-python function object every Kairos function returns.

For each CloudEvent it:
1. decodes and validates it (unknown type, wrong version, bad payload -> 4xx + reason);
2. opens one Postgres transaction, claims (consumer, event id) in the inbox — a duplicate
   is acknowledged without running the handler again; cron ticks are claimed by
   (function, schedule slot), because PingSource gives every tick a fresh random id;
3. runs the handler and writes its outputs to the outbox in the same transaction; commits;
4. publishes the new outbox rows and marks them published (a crash here is covered by
   the outbox-relay job);
5. answers 204 only after the commit; 4xx for input that can never succeed; 5xx for
   transient failures. Nothing leaves ``handle`` as an exception: func-python would turn
   a ``ValueError`` into a 400 and dead-letter a transient failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from cloudevents.core.v1.event import CloudEvent
from kafka import KafkaProducer
from psycopg_pool import ConnectionPool

from kairos.bus.kafka import make_producer
from kairos.catalog import Function, load_catalog
from kairos.contracts.codec import from_cloudevent
from kairos.contracts.envelope import Envelope
from kairos.contracts.ops import PING_EVENT_TYPE
from kairos.errors import EventTooLarge, KairosError, NotReady, PermanentError, UnexpectedEventType
from kairos.runtime import logs, metrics, recorder
from kairos.runtime.config import RuntimeSettings
from kairos.runtime.db import DB_RETRY_SECONDS, apply_migrations, is_connection_error, open_pool, ping
from kairos.runtime.publisher import OutboxPublisher

log = logging.getLogger(__name__)

Handler = Callable[[Envelope[Any], "Context"], Sequence[Envelope[Any]] | None]
ReadinessCheck = Callable[[], tuple[bool, str]]


@dataclass
class Context:
    """What a handler may use: the open transaction, who it is, and the ways out.

    A handler's outputs leave through the outbox of its transaction. Two stages also send
    what was committed elsewhere: the executor's service commits order events in its own
    transactions (``publish`` hands those rows to this function's publisher), and the
    outbox relay sends rows a crash left behind (``producer``). Nothing else of the runtime
    is a handler's business.
    """

    conn: psycopg.Connection
    function: str
    source: str
    spec: Function
    env: Mapping[str, str]
    publish: Callable[[Sequence[recorder.OutboxRow]], None]
    producer: KafkaProducer | None
    not_before: dict[str, datetime] = field(default_factory=dict)

    def publish_not_before(self, event: Envelope[Any], at: datetime) -> None:
        """Hold this output back until ``at`` (it is still written in this transaction).

        Why: a job that emits a minute's work at once (position-scheduler) spreads it over
        the minute instead of bursting. The publisher keeps it until due; after a crash the
        relay sends it once due. Consumers must accept it late, as any event.
        """
        self.not_before[event.meta.id] = at


@dataclass
class Outcome:
    """How an event was answered; ``status`` is the HTTP status code."""

    status: int
    code: str = "ok"
    reason: str = ""
    emitted: list[str] = field(default_factory=list)
    duplicate: bool = False

    def body(self) -> bytes:
        if self.status < 300:
            return b""
        return json.dumps({"error": {"code": self.code, "reason": self.reason}}).encode()


class KairosFunction:
    """The object func-python serves: ``handle``, ``start``, ``stop``, ``alive``, ``ready``."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        *,
        on_ready: Callable[[KairosFunction], None] | None = None,
        readiness: ReadinessCheck | None = None,
    ) -> None:
        self.name = name
        self.handler = handler
        self.source = f"/kairos/{name}"
        self.spec = load_catalog().function(name)
        self.accepted_types = load_catalog().accepted_types(self.spec)
        self._on_ready = on_ready
        self._readiness = readiness
        self.settings: RuntimeSettings | None = None
        self.env: Mapping[str, str] = {}
        self.pool: ConnectionPool | None = None
        self.producer: KafkaProducer | None = None
        self.publisher: OutboxPublisher | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._start_error: str | None = "starting"

    # --- lifecycle (func-python) ------------------------------------------------

    def start(self, cfg: Mapping[str, str]) -> None:
        """Validate configuration now (fail fast), connect and migrate in the background."""
        self.env = dict(cfg)
        self.settings = RuntimeSettings.from_env(cfg)
        logs.configure(self.settings.log_level, service=self.name)
        logs.function_name.set(self.name)
        threading.Thread(target=self._connect, name=f"{self.name}-start", daemon=True).start()

    def _connect(self) -> None:
        assert self.settings is not None
        delay = 0.2
        while not self._stopping.is_set():
            try:
                if self.pool is None:
                    self.pool = open_pool(self.settings.database_url, max_size=self.settings.pool_size, name=self.name)
                with self.pool.connection() as conn:
                    applied = apply_migrations(conn)
                if applied:
                    log.info("migrations applied", extra={"applied": applied})
                if self.producer is None:
                    self.producer = make_producer(self.settings.kafka_bootstrap, client_id=self.name)
                if self.publisher is None:
                    self.publisher = OutboxPublisher(
                        self.pool,
                        self.producer,
                        self.name,
                        on_failure=lambda _e: metrics.PUBLISH_FAILURES.labels(self.name).inc(),
                    )
                if self._on_ready:
                    self._on_ready(self)
                self._start_error = None
                self._ready.set()
                log.info("function ready")
                return
            except Exception as exc:  # keep trying: readiness stays false and says why
                self._start_error = f"{type(exc).__name__}: {exc}"
                log.warning("not ready yet, retrying", extra={"error": self._start_error})
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until ready (in-process use); raises NotReady with the last start error."""
        if not self._ready.wait(timeout):
            raise NotReady(f"{self.name} not ready after {timeout:.0f}s: {self._start_error}")

    def stop(self) -> None:
        self._stopping.set()
        self._ready.clear()
        if self.publisher is not None:
            self.publisher.close()
            self.publisher = None
        if self.producer is not None:
            self.producer.close(timeout=5)
            self.producer = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def alive(self) -> tuple[bool, str]:
        return True, "alive"

    def ready(self) -> tuple[bool, str]:
        """Started, the database answers (a function that cannot reach it can handle
        nothing), and the function's own check (e.g. the executor's RECOVERING) passes."""
        if not self._ready.is_set() or self.pool is None:
            return False, f"not ready: {self._start_error}"
        unreachable = ping(self.pool)
        if unreachable:
            return False, unreachable
        if self._readiness is not None:
            return self._readiness()
        return True, "ready"

    # --- handling -------------------------------------------------------------------

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """func-python entry point: the decoded CloudEvent is ``scope['event']``."""
        outcome = await asyncio.to_thread(self.process, scope["event"])
        headers = [
            (b"content-type", b"application/json"),
            (b"x-kairos-outcome", (b"duplicate" if outcome.duplicate else outcome.code.encode())),
        ]
        if outcome.emitted:
            headers.append((b"x-kairos-emitted", ",".join(outcome.emitted).encode()))
        body = outcome.body()
        await send.http({"type": "http.response.start", "status": outcome.status, "headers": headers})
        await send.http({"type": "http.response.body", "body": body})

    def process(self, ce: CloudEvent) -> Outcome:
        """Handle one CloudEvent end to end and say how to answer (never raises)."""
        started = time.perf_counter()
        metrics.IN_FLIGHT.labels(self.name).inc()
        token_e = logs.event_id.set(ce.get_id())
        token_c = logs.correlation_id.set(str(ce.get_extension("correlationid") or ce.get_id()))
        try:
            outcome = self._process(ce)
        finally:
            metrics.IN_FLIGHT.labels(self.name).dec()
            metrics.HANDLING.labels(self.name).observe(time.perf_counter() - started)
            logs.event_id.reset(token_e)
            logs.correlation_id.reset(token_c)
        kind = (
            "duplicate"
            if outcome.duplicate
            else ("handled" if outcome.status < 300 else "rejected" if outcome.status < 500 else "failed")
        )
        metrics.EVENTS.labels(self.name, kind).inc()
        return outcome

    def _process(self, ce: CloudEvent) -> Outcome:
        if not self._ready.is_set() or self.pool is None:
            return Outcome(503, NotReady.code, f"{self.name} is not ready: {self._start_error}")
        if self._readiness is not None:
            ok, why = self._readiness()
            if not ok:
                return Outcome(503, NotReady.code, why)
        try:
            env = self._decode(ce)
        except PermanentError as exc:
            log.warning("event refused", extra={"code": exc.code, "reason": str(exc), "type": ce.get_type()})
            return Outcome(exc.http_status, exc.code, str(exc))
        try:
            outcome, new_rows = self._transact_retrying(env)
        except KairosError as exc:
            level = logging.WARNING if isinstance(exc, PermanentError) else logging.ERROR
            log.log(level, "event failed", extra={"code": exc.code, "reason": str(exc)})
            return Outcome(exc.http_status, exc.code, str(exc))
        except psycopg.Error as exc:
            log.error("database error, will be retried", extra={"reason": str(exc)})
            return Outcome(503, "database_unavailable", f"database error: {exc}")
        except Exception as exc:  # a bug or an unexpected dependency failure: retry, then DLQ
            log.exception("handler failed")
            return Outcome(500, "handler_error", f"{type(exc).__name__}: {exc}")
        if new_rows:
            self.publish_rows(new_rows)
        return outcome

    def _transact_retrying(self, env: Envelope[Any]) -> tuple[Outcome, list[recorder.OutboxRow]]:
        """``_transact``, again on a fresh connection after a connection-level error.

        A killed backend or a failover must not cost the event its delivery budget: the
        transaction rolled back, so running it again is what a redelivery would do, only
        sooner. After ``DB_RETRY_SECONDS`` the error goes up (503, the delivery retries).
        """
        deadline = time.monotonic() + DB_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                return self._transact(env)
            except psycopg.Error as exc:
                if not is_connection_error(exc) or self._stopping.is_set() or time.monotonic() + delay > deadline:
                    raise
                log.warning("database connection failed; retrying on a fresh connection", extra={"reason": str(exc)})
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _decode(self, ce: CloudEvent) -> Envelope[Any]:
        assert self.settings is not None
        size = len(json.dumps(ce.get_data(), default=str)) if ce.get_data() is not None else 0
        if size > self.settings.max_event_bytes:
            raise EventTooLarge(f"event data is {size} bytes, the limit is {self.settings.max_event_bytes}")
        if ce.get_type() not in self.accepted_types:
            raise UnexpectedEventType(
                f"{self.name} does not accept {ce.get_type()} (accepts {sorted(self.accepted_types)})"
            )
        return from_cloudevent(ce)

    def inbox_key(self, env: Envelope[Any]) -> str:
        """The dedupe key: the event id, or the schedule slot for cron ticks."""
        if env.meta.type == PING_EVENT_TYPE:
            return f"cron:{env.meta.source}:{env.meta.time.isoformat()}"
        return env.meta.id

    def _transact(self, env: Envelope[Any]) -> tuple[Outcome, list[recorder.OutboxRow]]:
        """One delivery in its own transaction."""
        assert self.pool is not None
        with self.pool.connection() as conn, conn.transaction():
            (outcome,), rows = self._claim_handle_append(conn, [env])
        if outcome.duplicate:
            log.info("duplicate acknowledged")
        metrics.EMITTED.labels(self.name).inc(len(outcome.emitted))
        return outcome, rows

    def process_batch(self, events: Sequence[CloudEvent]) -> list[Outcome]:
        """Handle many events in ONE transaction (replay and backfill), then publish once.

        Fast path: every inbox claim in one statement, the handlers, every output in one
        pipelined insert. If a handler refuses an event (its writes must not stay while the
        others' do), the transaction is rolled back and the batch redone with one savepoint
        per event, so a refused event never undoes the others; the inbox dedupes either way.
        Not used on the HTTP path, where each delivery must be answered on its own.
        """
        if not self._ready.is_set() or self.pool is None:
            return [Outcome(503, NotReady.code, f"{self.name} is not ready: {self._start_error}") for _ in events]
        decoded = [self._decode_or_refusal(ce) for ce in events]
        envs = [e for e in decoded if not isinstance(e, Outcome)]
        try:
            with self.pool.connection() as conn, conn.transaction():
                handled, new_rows = self._claim_handle_append(conn, envs)
            answers = iter(handled)
            outcomes = [e if isinstance(e, Outcome) else next(answers) for e in decoded]
        except PermanentError:  # a handler refused one event: redo the batch, one savepoint each
            outcomes, new_rows = [], []
            with self.pool.connection() as conn, conn.transaction():
                for item in decoded:
                    if isinstance(item, Outcome):
                        outcomes.append(item)
                        continue
                    try:
                        with conn.transaction():
                            (outcome,), rows = self._claim_handle_append(conn, [item])
                    except PermanentError as exc:
                        outcome, rows = Outcome(exc.http_status, exc.code, str(exc)), []
                    outcomes.append(outcome)
                    new_rows += rows
        metrics.EMITTED.labels(self.name).inc(sum(len(o.emitted) for o in outcomes))
        if new_rows:
            self.publish_rows(new_rows)
        return outcomes

    def _decode_or_refusal(self, ce: CloudEvent) -> Envelope[Any] | Outcome:
        try:
            return self._decode(ce)
        except PermanentError as exc:
            return Outcome(exc.http_status, exc.code, str(exc))

    def _claim_handle_append(
        self, conn: psycopg.Connection, envs: Sequence[Envelope[Any]]
    ) -> tuple[list[Outcome], list[recorder.OutboxRow]]:
        """The sequence every path runs inside its transaction, for one event or a batch:
        claim every event in the inbox (one statement), run the handler on those claimed now,
        route their outputs to the catalog's topics and append them to the outbox (one
        insert). One outcome per event, in order. A handler's ``PermanentError`` propagates:
        the caller's transaction or savepoint undoes what the event wrote."""
        keyed = [(self.inbox_key(env), env) for env in envs]
        fresh = recorder.claim_many(conn, self.name, [(key, env.meta.type) for key, env in keyed])
        catalog = load_catalog()
        outcomes: list[Outcome] = []
        routed: list[tuple[str, Envelope[Any]]] = []
        not_before: dict[str, datetime] = {}
        for key, env in keyed:
            if key not in fresh:  # handled before, or an earlier copy in this batch
                outcomes.append(Outcome(204, "duplicate", duplicate=True))
                continue
            fresh.discard(key)
            ctx = self._context(conn)
            outputs = list(self.handler(env, ctx) or [])
            routed += [(catalog.output_topic(self.spec, out.meta.type), out) for out in outputs]
            not_before.update(ctx.not_before)
            outcomes.append(Outcome(204, "handled", emitted=[out.meta.id for out in outputs]))
        return outcomes, recorder.append_outbox(conn, self.name, routed, not_before)

    def _context(self, conn: psycopg.Connection) -> Context:
        return Context(conn, self.name, self.source, self.spec, self.env, self.publish_rows, self.producer)

    # --- publishing -----------------------------------------------------------------

    def publish_rows(self, rows: Sequence[recorder.OutboxRow]) -> None:
        """Hand committed outbox rows to the background publisher (the relay covers a crash)."""
        if self.publisher is not None:
            self.publisher.submit(rows)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every committed output was handed to the broker (tests, shutdown)."""
        return self.publisher.flush(timeout) if self.publisher is not None else True
