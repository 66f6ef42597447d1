"""Routes over risk and portfolio accounting: kill switches and limits (``kairos.risk.limits``,
what the risk guardian enforces on every order intent), decisions, balances and PnL per
account (``kairos.portfolio.ledger``)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kairos.api import reads
from kairos.api.app import IdempotencyKey
from kairos.api.users import User
from kairos.portfolio import ledger
from kairos.risk import limits
from kairos.risk.codes import LIMIT_NAMES

if TYPE_CHECKING:
    from kairos.api.app import Api

ScopeKind = Literal["global", "account", "strategy"]


class KillSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engaged: bool
    reason: str = Field(min_length=1, max_length=500)
    scope: ScopeKind = "global"
    scope_id: str = Field(default="*", pattern=r"^(\*|[a-z0-9][a-z0-9._-]{1,63})$")


class LimitChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: ScopeKind
    scope_id: str = Field(default="*", pattern=r"^(\*|[a-z0-9][a-z0-9._-]{1,63})$")
    name: str = Field(description=f"one of {', '.join(LIMIT_NAMES)}", pattern=r"^[a-z_]{2,40}$")
    value: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?$", description="None removes the limit")
    reason: str = Field(min_length=1, max_length=500)


def _plain(obj: Any) -> dict[str, Any]:
    return {k: reads._plain(v) for k, v in dataclasses.asdict(obj).items()}


def kill_switch_state(conn: psycopg.Connection) -> dict[str, Any]:
    engaged = limits.engaged_switches(conn)
    every = next((reason for kind, _id, reason in engaged if kind == "global"), None)
    return {
        "engaged": every is not None,
        "reason": every,
        "switches": [{"scope": k, "scope_id": i, "reason": r} for k, i, r in engaged],
    }


def router(api: Api) -> APIRouter:
    viewer = Depends(api.role("viewer"))
    trader = Depends(api.role("trader"))
    admin = Depends(api.role("admin"))
    r = APIRouter(prefix="/api/v1", tags=["risk", "portfolio"], responses={401: {}, 403: {}, 422: {}, 429: {}})

    @r.get("/kill-switch", dependencies=[viewer])
    def kill_switch_get() -> dict[str, Any]:
        """Engaged kill switches; ``engaged`` is the global one (every new order intent refused)."""
        with api.pool.connection() as conn:
            return {"as_of": reads.as_of(conn), **kill_switch_state(conn)}

    @r.post("/kill-switch")
    async def kill_switch(body: KillSwitch, request: Request, key: IdempotencyKey, user: User = trader) -> Response:
        """Engage or release a kill switch (global by default): the risk guardian refuses new intents in its scope."""

        def effect(conn: psycopg.Connection) -> tuple[int, Any]:
            switch = limits.engage if body.engaged else limits.release
            try:
                changed = switch(conn, body.scope, body.scope_id, actor=f"api:{user.username}", reason=body.reason)
            except limits.BadLimit as exc:
                raise HTTPException(422, {"code": "invalid_request", "reason": str(exc)}) from exc
            return 200, {
                "engaged": body.engaged,
                "scope": body.scope,
                "scope_id": body.scope_id,
                "changed": changed,
                "reason": body.reason,
            }

        action = "kill_switch.engage" if body.engaged else "kill_switch.release"
        return await api.write(request, user, key, action, f"{body.scope}:{body.scope_id}", effect)

    @r.get("/risk/limits", dependencies=[viewer])
    def risk_limits() -> dict[str, Any]:
        with api.pool.connection() as conn:
            return {"as_of": reads.as_of(conn), "items": [_plain(x) for x in limits.current(conn)]}

    @r.put("/risk/limits")
    async def set_limit(body: LimitChange, request: Request, key: IdempotencyKey, user: User = admin) -> Response:
        """A new version of one limit (value null removes it)."""

        def effect(conn: psycopg.Connection) -> tuple[int, Any]:
            try:
                value = Decimal(body.value) if body.value is not None else None
                version = limits.set_limit(
                    conn, body.scope, body.scope_id, body.name, value, actor=f"api:{user.username}", reason=body.reason
                )
            except (limits.BadLimit, InvalidOperation) as exc:
                raise HTTPException(422, {"code": "invalid_request", "reason": str(exc)}) from exc
            return 200, {**body.model_dump(), "version": version}

        return await api.write(request, user, key, "risk.limit", f"{body.scope}:{body.scope_id}:{body.name}", effect)

    @r.get("/risk/decisions", dependencies=[viewer])
    def decisions(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        with api.pool.connection() as conn:
            items = reads._rows(
                conn,
                "SELECT decided_at, outcome, reason_code, account, strategy_id, symbol, intent_id,"
                " details->>'message' AS message FROM risk_decisions ORDER BY decided_at DESC LIMIT %s",
                (limit,),
            )
            return {"as_of": reads.as_of(conn), "items": items}

    @r.get("/balances", dependencies=[viewer])
    def balances(
        account: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")] = None,
    ) -> dict[str, Any]:
        """Ledger balances per asset and each account's balance, PnL and equity (portfolio accounting)."""
        with api.pool.connection() as conn:
            names = [account] if account else ledger.accounts(conn)
            now = datetime.now(UTC)
            summaries = [{k: reads._plain(v) for k, v in ledger.summary(conn, a, now).items()} for a in names]
            return {
                "as_of": reads.as_of(conn),
                "balances": [_plain(b) for b in ledger.balances(conn, account)],
                "accounts": summaries,
            }

    return r
