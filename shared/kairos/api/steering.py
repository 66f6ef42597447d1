"""Routes over the strategies and backtests libraries: CRUD, validate, start, stop, signals,
backtests (submit, list, result, chart). Each route calls the library function that owns the
concept (``kairos.strategies.store`` / ``language``, ``kairos.backtest.runner``); a strategy's
start or stop announcement goes to the outbox in the same transaction, as the CLI does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kairos.api import reads
from kairos.api.app import IdempotencyKey
from kairos.api.users import User
from kairos.backtest import runner
from kairos.backtest.config import BacktestRequest
from kairos.runtime.recorder import append_outbox
from kairos.strategies import language, store

if TYPE_CHECKING:
    from kairos.api.app import Api

PRODUCER = "api"
StrategyP = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
RunP = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9-]{2,62}$")]


class Document(BaseModel):
    """A strategy document as data, or as the YAML/JSON text an operator pasted (exactly one of the two)."""

    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any] | None = Field(default=None, description="the strategy document (docs/STRATEGIES.md)")
    text: str | None = Field(default=None, max_length=60000, description="the document as YAML or JSON text")

    @model_validator(mode="after")
    def _one_of(self) -> Document:
        if (self.document is None) == (self.text is None):
            raise ValueError("give exactly one of document and text")
        return self

    def load(self) -> Any:
        """The document's data; text with a syntax error raises StrategyInvalid at the document."""
        return self.document if self.document is not None else language.load_text(self.text or "")


class Start(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=1, description="None: the latest version")


class Stop(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="stopped by an operator", min_length=1, max_length=500)


def _problems(exc: language.StrategyInvalid) -> dict[str, Any]:
    return {
        "code": "invalid_strategy",
        "reason": "the strategy document does not validate",
        "fields": [
            {"loc": p.path, "msg": f"expected {p.expected}; found {p.found}", "expected": p.expected, "found": p.found}
            for p in exc.problems
        ],
    }


def _parse(body: Document) -> language.StrategySpec:
    try:
        return language.parse(body.load())
    except language.StrategyInvalid as exc:
        raise HTTPException(422, _problems(exc)) from exc


def _row(r: store.StrategyRow) -> dict[str, Any]:
    return {
        "strategy_id": r.strategy_id,
        "state": r.state,
        "running_version": r.running_version,
        "latest_version": r.latest_version,
        "state_changed_at": r.state_changed_at.isoformat(),
        "state_changed_by": r.state_changed_by,
        "state_reason": r.state_reason,
    }


def router(api: Api) -> APIRouter:
    viewer = Depends(api.role("viewer"))
    trader = Depends(api.role("trader"))
    r = APIRouter(prefix="/api/v1", tags=["strategies", "backtests"], responses={401: {}, 403: {}, 422: {}, 429: {}})

    @r.get("/strategies", dependencies=[viewer])
    def strategies() -> dict[str, Any]:
        with api.pool.connection() as conn:
            return {"as_of": reads.as_of(conn), "items": [_row(x) for x in store.rows(conn)]}

    @r.get("/strategies/{strategy_id}", dependencies=[viewer], responses={404: {}})
    def strategy(strategy_id: StrategyP) -> dict[str, Any]:
        with api.pool.connection() as conn:
            found = store.rows(conn, strategy_id)
            if not found:
                raise HTTPException(404, {"code": "not_found", "reason": f"no strategy {strategy_id!r}"})
            row = _row(found[0])
            spec = store.spec(conn, strategy_id, found[0].latest_version)
            symbols = [
                dict(zip(("symbol", "position", "quantity", "bars", "needed", "updated_at"), s, strict=False))
                for s in store.symbols(conn, strategy_id)
            ]
            return {"as_of": reads.as_of(conn), **row, "document": language.canonical(spec), "symbols": symbols}

    @r.post("/strategies/validate", dependencies=[viewer])
    def validate(body: Document) -> dict[str, Any]:
        """Validate a document without storing it: every problem with its path."""
        try:
            spec = language.parse(body.load())
        except language.StrategyInvalid as exc:
            return {"valid": False, **_problems(exc)}
        return {"valid": True, "strategy_id": spec.name}

    @r.post("/strategies")
    async def create(body: Document, request: Request, key: IdempotencyKey, user: User = trader) -> Response:
        """Store a document as its strategy's next version (the same document again creates nothing)."""
        spec = _parse(body)

        def effect(conn: psycopg.Connection) -> tuple[int, Any]:
            version, created = store.create(conn, spec, f"api:{user.username}")
            return (201 if created else 200), {"strategy_id": spec.name, "version": version, "created": created}

        return await api.write(request, user, key, "strategy.create", spec.name, effect)

    @r.post("/strategies/{strategy_id}/start", responses={404: {}})
    async def start(
        strategy_id: StrategyP, body: Start, request: Request, key: IdempotencyKey, user: User = trader
    ) -> Response:
        def effect(conn: psycopg.Connection) -> tuple[int, Any]:
            try:
                event = store.start(conn, strategy_id, body.version, f"api:{user.username}")
            except store.StrategyError as exc:
                raise HTTPException(exc.http_status, {"code": exc.code, "reason": str(exc)}) from exc
            append_outbox(conn, PRODUCER, [(store.TOPIC, event)])
            return 200, {"strategy_id": strategy_id, "state": "RUNNING", "version": event.data.strategy_version}

        return await api.write(request, user, key, "strategy.start", strategy_id, effect)

    @r.post("/strategies/{strategy_id}/stop", responses={404: {}})
    async def stop(
        strategy_id: StrategyP, body: Stop, request: Request, key: IdempotencyKey, user: User = trader
    ) -> Response:
        def effect(conn: psycopg.Connection) -> tuple[int, Any]:
            try:
                event = store.stop(conn, strategy_id, f"api:{user.username}", body.reason)
            except store.StrategyError as exc:
                raise HTTPException(exc.http_status, {"code": exc.code, "reason": str(exc)}) from exc
            if event is not None:
                append_outbox(conn, PRODUCER, [(store.TOPIC, event)])
            return 200, {"strategy_id": strategy_id, "state": "STOPPED", "was_running": event is not None}

        return await api.write(request, user, key, "strategy.stop", strategy_id, effect)

    @r.get("/signals", dependencies=[viewer])
    def signals(
        strategy_id: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")] = None,
        symbol: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """The strategies' decisions per candle (signal and, when one was sized, its order intent)."""
        with api.pool.connection() as conn:
            items = reads._rows(
                conn,
                "SELECT strategy_id, version, symbol, candle_open_time, action, signal_id, intent_id, created_at"
                " FROM strategy_decisions WHERE (%(s)s::text IS NULL OR strategy_id = %(s)s)"
                " AND (%(y)s::text IS NULL OR symbol = %(y)s) ORDER BY candle_open_time DESC LIMIT %(n)s",
                {"s": strategy_id, "y": symbol, "n": limit},
            )
            return {"as_of": reads.as_of(conn), "items": items}

    @r.get("/backtests", dependencies=[viewer])
    def backtests(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        with api.pool.connection() as conn:
            items = runner.runs(conn)[-limit:]
            return {"as_of": reads.as_of(conn), "items": [{k: reads._plain(v) for k, v in x.items()} for x in items]}

    @r.post("/backtests")
    async def submit(body: BacktestRequest, request: Request, key: IdempotencyKey, user: User = trader) -> Response:
        """Run a backtest now over the stored candles and store it (kairos.backtest.runner.run)."""

        def effect(conn: psycopg.Connection) -> tuple[int, Any]:
            try:
                # inside the idempotent write's transaction: the run, its result and the answer commit together
                outcome = runner.run(conn, body, commit_start=False)
            except runner.BacktestError as exc:
                raise HTTPException(422, {"code": exc.code, "reason": str(exc)}) from exc
            return 201, {
                "run_id": outcome.run_id,
                "result_hash": outcome.result_hash,
                "metrics": outcome.metrics,
                "candles": outcome.candles,
                "rerun": outcome.rerun,
            }

        return await api.write(request, user, key, "backtest.submit", body.strategy_id, effect)

    def _result(run_id: str) -> dict[str, Any]:
        with api.pool.connection() as conn:
            try:
                return runner.load_result(conn, run_id)
            except runner.BacktestError as exc:
                raise HTTPException(404, {"code": "not_found", "reason": str(exc)}) from exc

    @r.get("/backtests/{run_id}", dependencies=[viewer], responses={404: {}})
    def result(run_id: RunP) -> dict[str, Any]:
        return {k: reads._plain(v) for k, v in _result(run_id).items()}

    @r.get("/backtests/{run_id}/chart", dependencies=[viewer], responses={404: {}})
    def chart(run_id: RunP) -> dict[str, Any]:
        """The equity curve as points (time, equity, drawdown) for a chart."""
        equity = _result(run_id).get("equity") or {}
        times = equity.get("time", [])
        points = [
            {"time": t, "equity": e, "drawdown": d}
            for t, e, d in zip(times, equity.get("equity", []), equity.get("drawdown", []), strict=False)
        ]
        return {"run_id": run_id, "equity": points}

    return r
