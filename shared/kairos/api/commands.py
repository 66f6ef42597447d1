"""The API's writes that go through another stage's path: a reconciler tick, an account.

The reconciler is a cron function: a tick is a PingSource event, and it dedupes ticks by
their time, so a tick stamped "now" (microseconds) is a fresh slot and runs at once. The
account goes through ``kairos.execution.accounts.register``, which seals the keys with the
key vault before they reach the database; the API never returns them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from fastapi import HTTPException

from kairos.contracts.ops import PING_EVENT_TYPE
from kairos.errors import ConfigError
from kairos.execution import accounts
from kairos.execution.vault import KeyVault
from kairos.venues.port import Credentials


def reconcile_now(url: str | None) -> tuple[int, Any]:
    if not url:
        raise HTTPException(
            503,
            {
                "code": "not_configured",
                "reason": "KAIROS_RECONCILER_URL is not set: the API cannot reach the reconciler",
            },
        )
    tick_id = uuid.uuid4().hex
    headers = {
        "ce-specversion": "1.0",
        "ce-id": tick_id,
        "ce-source": "/apis/v1/namespaces/kairos/pingsources/reconciler-operator",
        "ce-type": PING_EVENT_TYPE,
        "ce-time": datetime.now(UTC).isoformat(),
        "content-type": "application/json",
    }
    try:
        answer = httpx.post(url, headers=headers, content=b'{"job": "reconcile"}', timeout=30)
    except httpx.HTTPError as exc:
        raise HTTPException(502, {"code": "reconciler_unreachable", "reason": f"{type(exc).__name__}: {exc}"}) from exc
    if answer.status_code >= 300:
        raise HTTPException(
            502,
            {"code": "reconciler_refused", "reason": f"reconciler answered {answer.status_code}: {answer.text[:300]}"},
        )
    return 202, {"tick": tick_id, "reconciler_status": answer.status_code}


def register_account(conn: psycopg.Connection, body: dict[str, Any]) -> tuple[int, Any]:
    has_key, has_secret = bool(body.get("api_key")), bool(body.get("secret"))
    if has_key != has_secret:
        raise HTTPException(422, {"code": "invalid_request", "reason": "give both api_key and secret, or neither"})
    if body["mode"] == "live" and not has_key:
        raise HTTPException(422, {"code": "invalid_request", "reason": "a live account needs api_key and secret"})
    try:
        vault = KeyVault.from_env()
    except ConfigError as exc:
        raise HTTPException(503, {"code": "not_configured", "reason": str(exc)}) from exc
    creds = Credentials(api_key=body["api_key"], secret=body["secret"]) if has_key else None
    accounts.register(
        conn, vault, body["account"], venue=body["venue"], mode=body["mode"], base_url=body.get("base_url"), creds=creds
    )
    return 201, {"account": body["account"], "venue": body["venue"], "mode": body["mode"], "keys_sealed": has_key}
