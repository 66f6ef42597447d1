"""The operator API's ASGI application (FastAPI): routes, authentication, limits, idempotency.

Every route is under ``/api/v1``. Reads need any role; steering trading needs ``trader``;
accounts, users' audit and dead letters need ``admin``. Every write carries an
``Idempotency-Key`` and runs, with its stored answer and its audit row, in one transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from kairos.api import audit, idempotency, limits, reads, tokens, users
from kairos.api.settings import ApiSettings
from kairos.api.users import Role, User

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
SYMBOL = r"^[A-Z0-9]{2,20}(/[A-Z0-9]{2,12}(:[A-Z0-9]{2,12})?)?$"
TIMEFRAME = r"^(1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M)$"
NAME = r"^[a-z0-9][a-z0-9._-]{1,63}$"
LimitQ = Annotated[int, Query(ge=1, le=1000)]
AccountQ = Annotated[str | None, Query(pattern=NAME)]
StateQ = Annotated[str | None, Query(pattern=r"^[A-Z_]{3,20}$")]
StatusQ = Annotated[str, Query(pattern=r"^(open|all)$")]
VenueQ = Annotated[str | None, Query(pattern=r"^[a-z0-9_]{2,32}$")]
TimeframeQ = Annotated[str, Query(pattern=TIMEFRAME)]
SymbolP = Annotated[str, PathParam(pattern=SYMBOL)]
StaticP = Annotated[str, PathParam(pattern=r"^[a-z0-9_-]+\.(js|css|html)$")]
IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[\x21-\x7e]+$")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(Strict):
    username: str = Field(pattern=NAME)
    password: str = Field(min_length=1, max_length=256)


class Refresh(Strict):
    refresh_token: str = Field(min_length=16, max_length=256)


class AccountIn(Strict):
    account: str = Field(pattern=NAME)
    venue: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    mode: str = Field(pattern=r"^(live|shadow)$")
    base_url: str | None = Field(default=None, max_length=300, pattern=r"^https?://[^\s]+$")
    api_key: str | None = Field(default=None, min_length=4, max_length=256)
    secret: str | None = Field(default=None, min_length=4, max_length=256)


class _NotDone(Exception):
    """A write that failed on our side (5xx): rolled back, key not kept, still audited."""

    def __init__(self, status: int, answer: Any, outcome: str) -> None:
        super().__init__(outcome)
        self.status, self.answer, self.outcome = status, answer, outcome


@dataclass(frozen=True)
class Caller:
    """Who sends a read: the user its valid token names, and the address it comes from."""

    user: User
    address: str


def _error(status: int, code: str, reason: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "reason": reason, **extra}}, status_code=status)


class Api:
    """The application and what its routes share: settings and the connection pool."""

    def __init__(
        self, settings: ApiSettings, pool: ConnectionPool, extra: list[Callable[[Api], APIRouter]] | None = None
    ):
        self.settings = settings
        self.pool = pool
        self.app = FastAPI(
            title="Kairos operator API",
            version="1",
            description="Reads what the stages store; steers trading through the paths the stages already use.",
            docs_url="/api/v1/docs",
            openapi_url="/api/v1/openapi.json",
            redoc_url=None,
        )
        self.app.add_exception_handler(RequestValidationError, self._invalid)  # type: ignore[arg-type]
        self.app.add_exception_handler(StarletteHTTPException, self._http_error)  # type: ignore[arg-type]
        self.app.add_exception_handler(psycopg.OperationalError, self._database_down)  # type: ignore[arg-type]
        self.app.add_exception_handler(psycopg.DataError, self._bad_value)  # type: ignore[arg-type]
        self.app.include_router(self._public())
        self.app.include_router(self._reads())
        self.app.include_router(self._writes())
        from kairos.api import dead_letter_routes, risk_routes, steering, stream

        self.app.include_router(stream.router(self))
        self.app.include_router(steering.router(self))
        self.app.include_router(risk_routes.router(self))
        self.app.include_router(dead_letter_routes.router(self))
        for make in extra or []:
            self.app.include_router(make(self))
        self._dashboard()

    # --- errors -------------------------------------------------------------------

    async def _invalid(self, _request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        return _error(422, "invalid_request", "the request does not match the API's schema", fields=fields)

    async def _http_error(self, _request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.detail, dict):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    async def _bad_value(self, _request: Request, exc: psycopg.DataError) -> Response:
        """A value the schema lets through but Postgres cannot store (a NUL character in text, a
        number out of range) is the client's input: 422, never a 500. The write's transaction,
        with its Idempotency-Key claim, has rolled back."""
        return _error(422, "invalid_value", f"a value cannot be stored: {str(exc).splitlines()[0]}")

    async def _database_down(self, _request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("database unavailable", extra={"reason": str(exc)})
        return JSONResponse(
            {"error": {"code": "database_unavailable", "reason": "the database did not answer; retry"}},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    # --- dependencies ---------------------------------------------------------------

    def _limit(self, conn: psycopg.Connection, bucket: str, limit: limits.Limit) -> None:
        verdict = limits.hit(conn, bucket, limit)
        if not verdict.allowed:
            raise HTTPException(
                429,
                {"code": "rate_limited", "reason": f"too many requests for {bucket}; retry later"},
                headers={"Retry-After": str(verdict.retry_after_s)},
            )

    def address_limit(self, request: Request) -> None:
        address = request.client.host if request.client else "unknown"
        with self.pool.connection() as conn:
            self._limit(conn, f"addr:{address}", self.settings.per_address)

    def current_user_token(self, request: Request) -> User:
        """The user a valid bearer token names (401 otherwise); no database read."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(
                401,
                {"code": "unauthorized", "reason": "missing bearer token: POST /api/v1/auth/login first"},
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            return tokens.verify_access(self.settings.tokens, token.strip())
        except tokens.BadToken as exc:
            raise HTTPException(
                401, {"code": "unauthorized", "reason": str(exc)}, headers={"WWW-Authenticate": "Bearer"}
            ) from exc

    def role(self, needed: Role) -> Callable[..., User]:
        """Token check (no database), then the address and user limits in one statement, then the role."""

        def check(request: Request) -> User:
            address = request.client.host if request.client else "unknown"
            try:
                user = self.current_user_token(request)
            except HTTPException:
                self.address_limit(request)  # a bad token still counts against its address
                raise
            with self.pool.connection() as conn:
                self._count(conn, Caller(user, address))
            if not users.may(user.role, needed):
                raise HTTPException(403, {"code": "forbidden", "reason": f"needs role {needed}, you are {user.role}"})
            return user

        return check

    def _count(self, conn: psycopg.Connection, caller: Caller) -> limits.Verdict:
        """One hit on the caller's address and user limits (one statement); 429 above either."""
        buckets = [
            (f"addr:{caller.address}", self.settings.per_address),
            (f"user:{caller.user.username}", self.settings.per_user),
        ]
        verdict = limits.hit_all(conn, buckets)
        if not verdict.allowed:
            raise HTTPException(
                429,
                {
                    "code": "rate_limited",
                    "reason": f"too many requests from {caller.address} or {caller.user.username}",
                },
                headers={"Retry-After": str(verdict.retry_after_s)},
            )
        return verdict

    def reader(self) -> Callable[[Request], Awaitable[Caller]]:
        """The token check of a read, on the event loop (no database, no thread hop); the limits
        are counted by :meth:`reading` on the connection the read then uses. Every role may read."""

        async def check(request: Request) -> Caller:
            try:
                user = self.current_user_token(request)
            except HTTPException:
                await run_in_threadpool(self.address_limit, request)  # a bad token still counts against its address
                raise
            return Caller(user, request.client.host if request.client else "unknown")

        return check

    @contextmanager
    def reading(self, caller: Caller) -> Iterator[tuple[psycopg.Connection, str]]:
        """One pool checkout for a whole read: the caller's limits and the read's "as of" (the
        database clock just before the read) in one statement, then the read. Autocommit: each
        statement commits alone, without BEGIN and COMMIT round trips; a read's statements each
        see their own snapshot, as they do in a read-committed transaction."""
        with self.pool.connection() as conn:
            conn.autocommit = True
            try:
                verdict = self._count(conn, caller)
                assert verdict.db_now is not None
                yield conn, verdict.db_now.isoformat()
            finally:
                if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                    conn.autocommit = False

    # --- writes ---------------------------------------------------------------------

    async def write(
        self,
        request: Request,
        user: User,
        key: str,
        action: str,
        target: str | None,
        effect: Callable[[psycopg.Connection], tuple[int, Any]],
    ) -> JSONResponse:
        """Run ``effect`` once per (user, key): claim, act, store the answer, audit; one transaction."""
        body = await request.body()
        digest = idempotency.request_hash(request.method, request.url.path, body)
        request_doc: Any = json.loads(body) if body else None
        if isinstance(request_doc, dict):
            request_doc = {k: ("***" if k in {"api_key", "secret", "password"} else v) for k, v in request_doc.items()}

        def run() -> tuple[int, Any, bool]:
            with self.pool.connection() as conn, conn.transaction():
                try:
                    stored = idempotency.claim(conn, user.username, key, request.method, request.url.path, digest)
                except idempotency.KeyReused as exc:
                    return 422, {"error": {"code": "idempotency_key_reused", "reason": str(exc)}}, False
                if stored is not None:
                    return stored.status, stored.body, True
                try:
                    with conn.transaction():
                        status, answer = effect(conn)
                except HTTPException as exc:
                    status = exc.status_code
                    answer = {
                        "error": exc.detail
                        if isinstance(exc.detail, dict)
                        else {"code": "refused", "reason": exc.detail}
                    }
                outcome = "ok" if status < 400 else str(answer.get("error", {}).get("code", "refused"))
                if status >= 500:
                    raise _NotDone(status, answer, outcome)  # nothing happened: the key stays free for a retry
                idempotency.store(conn, user.username, key, status, answer)
                audit.record(
                    conn, user, action, target=target, key=key, request=request_doc, outcome=outcome, status=status
                )
                return status, answer, False

        def run_or_report() -> tuple[int, Any, bool]:
            try:
                return run()
            except _NotDone as failed:
                with self.pool.connection() as conn:
                    audit.record(
                        conn,
                        user,
                        action,
                        target=target,
                        key=key,
                        request=request_doc,
                        outcome=failed.outcome,
                        status=failed.status,
                    )
                return failed.status, failed.answer, False

        status, answer, replayed = await run_in_threadpool(run_or_report)
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(answer, status_code=status, headers=headers)

    # --- routes -----------------------------------------------------------------------

    def _public(self) -> APIRouter:
        r = APIRouter(prefix="/api/v1", tags=["auth"])

        @r.get("/health", tags=["health"])
        def health() -> dict[str, Any]:
            """Whether the API reaches its database; no authentication."""
            with self.pool.connection() as conn:
                return {"status": "ok", "as_of": reads.as_of(conn)}

        @r.post(
            "/auth/login",
            dependencies=[Depends(self.address_limit)],
            responses={401: {"description": "wrong name or password"}},
        )
        def login(body: Login) -> dict[str, Any]:
            """A short-lived access token (JWT) and a single-use refresh token."""
            with self.pool.connection() as conn, conn.transaction():
                user = users.authenticate(conn, body.username, body.password)
                if user is None:
                    raise HTTPException(401, {"code": "unauthorized", "reason": "wrong user name or password"})
                return self._tokens(conn, user)

        @r.post(
            "/auth/refresh",
            dependencies=[Depends(self.address_limit)],
            responses={401: {"description": "unknown, used or expired refresh token"}},
        )
        def refresh(body: Refresh) -> dict[str, Any]:
            """A new access token and a new refresh token for an unused refresh token."""
            with self.pool.connection() as conn, conn.transaction():
                name = tokens.use_refresh(conn, body.refresh_token)
                user = users.find(conn, name) if name else None
                if user is None:
                    raise HTTPException(
                        401, {"code": "unauthorized", "reason": "refresh token unknown, used or expired"}
                    )
                return self._tokens(conn, user)

        return r

    def _tokens(self, conn: psycopg.Connection, user: User) -> dict[str, Any]:
        return {
            "access_token": tokens.issue_access(self.settings.tokens, user),
            "refresh_token": tokens.issue_refresh(conn, self.settings.tokens, user),
            "token_type": "bearer",
            "expires_in": self.settings.tokens.access_ttl_s,
            "user": {"username": user.username, "role": user.role},
        }

    def _reads(self) -> APIRouter:
        viewer = Depends(self.role("viewer"))
        reader = Depends(self.reader())
        r = APIRouter(prefix="/api/v1", tags=["reads"], responses={401: {}, 403: {}, 429: {}})

        @r.get("/me")
        def me(user: User = viewer) -> dict[str, Any]:
            return {"username": user.username, "role": user.role}

        @r.get("/orders")
        def orders(
            caller: Caller = reader,
            limit: LimitQ = 100,
            state: StateQ = None,
            account: AccountQ = None,
        ) -> dict[str, Any]:
            with self.reading(caller) as (conn, as_of):
                return {"as_of": as_of, "items": reads.orders(conn, limit=limit, state=state, account=account)}

        @r.get("/fills")
        def fills(caller: Caller = reader, limit: LimitQ = 100, account: AccountQ = None) -> dict[str, Any]:
            with self.reading(caller) as (conn, as_of):
                return {"as_of": as_of, "items": reads.fills(conn, limit=limit, account=account)}

        @r.get("/positions")
        def positions(caller: Caller = reader, status: StatusQ = "open", limit: LimitQ = 200) -> dict[str, Any]:
            """Positions with their protection state and protective orders; unrealised PnL at the stored mark."""
            with self.reading(caller) as (conn, as_of):
                return {"as_of": as_of, "items": reads.positions(conn, open_only=status == "open", limit=limit)}

        @r.get("/pnl")
        def pnl(caller: Caller = reader) -> dict[str, Any]:
            """Realised PnL and fees of every position, unrealised PnL of open ones at their stored marks."""
            with self.reading(caller) as (conn, as_of):
                return {"as_of": as_of, **reads.pnl(conn)}

        @r.get("/snapshots")
        def snapshots(caller: Caller = reader, limit: LimitQ = 100) -> dict[str, Any]:
            with self.reading(caller) as (conn, as_of):
                return {"as_of": as_of, "items": reads.snapshots(conn, limit)}

        @r.get("/market-data/{symbol:path}", responses={404: {}})
        def market_data(
            symbol: SymbolP,
            caller: Caller = reader,
            venue: VenueQ = None,
        ) -> dict[str, Any]:
            """The stored mark price and the newest 1m candle of a symbol (ccxt form, e.g. BTC/USDT:USDT)."""
            with self.reading(caller) as (conn, as_of):
                found = reads.market_data(conn, venue or self.settings.venue, symbol)
                if found is None:
                    raise HTTPException(404, {"code": "not_found", "reason": f"no market data stored for {symbol}"})
                return {"as_of": as_of, **found}

        @r.get("/ohlcv/{symbol:path}")
        def ohlcv(
            symbol: SymbolP,
            caller: Caller = reader,
            timeframe: TimeframeQ = "1m",
            limit: LimitQ = 200,
            venue: VenueQ = None,
        ) -> dict[str, Any]:
            """Stored closed candles, oldest first (the newest ``limit``)."""
            with self.reading(caller) as (conn, as_of):
                items = reads.ohlcv(conn, venue or self.settings.venue, symbol, timeframe, limit)
                return {"as_of": as_of, "symbol": symbol, "timeframe": timeframe, "items": items}

        @r.get("/alerts")
        def alerts(caller: Caller = reader, limit: LimitQ = 50) -> dict[str, Any]:
            with self.reading(caller) as (conn, as_of):
                return {"as_of": as_of, "items": reads.alerts(conn, limit)}

        @r.get("/protection/slo")
        def protection_slo(caller: Caller = reader) -> dict[str, Any]:
            """The protection SLOs as slo-monitor computes them (kairos.portfolio.monitor.report)."""
            from datetime import UTC, datetime

            from kairos.portfolio import monitor

            with self.reading(caller) as (conn, as_of):
                rep = monitor.report(conn, datetime.now(UTC))
                return {
                    "as_of": as_of,
                    "delay_p50_s": rep.delay_p50_s,
                    "delay_p99_s": rep.delay_p99_s,
                    "delay_max_s": rep.delay_max_s,
                    "protected_positions": rep.protected_positions,
                    "placement_success_rate": rep.placement_success_rate,
                    "unprotected": [{"position_id": p, "seconds": s} for p, s in rep.unprotected],
                    "sync_cycle_s": rep.sync_cycle_s,
                    "breaches": [{"code": a.code, "severity": a.severity, "message": a.message} for a in rep.alerts],
                }

        return r

    def _writes(self) -> APIRouter:
        trader = Depends(self.role("trader"))
        admin = Depends(self.role("admin"))
        r = APIRouter(prefix="/api/v1", tags=["steering"], responses={401: {}, 403: {}, 409: {}, 422: {}, 429: {}})

        @r.post("/reconcile")
        async def reconcile(request: Request, key: IdempotencyKey, user: User = trader) -> Response:
            """Send the reconciler a tick now (it otherwise runs every minute)."""
            from kairos.api import commands

            def effect(_conn: psycopg.Connection) -> tuple[int, Any]:
                return commands.reconcile_now(self.settings.reconciler_url)

            return await self.write(request, user, key, "reconcile.now", "reconciler", effect)

        @r.get("/accounts", dependencies=[admin])
        def list_accounts() -> dict[str, Any]:
            """Exchange accounts; keys are never returned, only whether some are sealed."""
            with self.pool.connection() as conn:
                return {"as_of": reads.as_of(conn), "items": reads.accounts(conn)}

        @r.post("/accounts")
        async def add_account(body: AccountIn, request: Request, key: IdempotencyKey, user: User = admin) -> Response:
            """Register or replace an exchange account; keys are sealed with the key vault before they are stored."""
            from kairos.api import commands

            def effect(conn: psycopg.Connection) -> tuple[int, Any]:
                return commands.register_account(conn, body.model_dump())

            return await self.write(request, user, key, "account.register", body.account, effect)

        @r.get("/audit", dependencies=[admin])
        def audit_log(limit: LimitQ = 100) -> dict[str, Any]:
            with self.pool.connection() as conn:
                return {"as_of": reads.as_of(conn), "items": audit.recent(conn, limit)}

        return r

    def _dashboard(self) -> None:
        @self.app.get("/", include_in_schema=False)
        def index() -> FileResponse:
            return FileResponse(STATIC / "dashboard.html", headers={"Cache-Control": "no-cache"})

        @self.app.get("/static/{name}", include_in_schema=False)
        def static(name: StaticP) -> FileResponse:
            path = STATIC / name
            if not path.is_file():
                raise HTTPException(404, {"code": "not_found", "reason": f"no static file {name}"})
            return FileResponse(path, headers={"Cache-Control": "no-cache"})
