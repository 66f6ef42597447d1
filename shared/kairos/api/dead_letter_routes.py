"""Dead letters over HTTP: list, show, replay — the production counterpart of ``kairos dlq``.

Reading and the replayed record come from :mod:`kairos.bus.dead_letters` (what the CLI uses).
A replay is written to the outbox, in the transaction that claims the Idempotency-Key and
records the audit row, and the outbox relay publishes it to the original topic: the event
keeps its id (it was refused, so no inbox row holds it).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kairos.api.app import IdempotencyKey
from kairos.api.users import User
from kairos.bus import dead_letters
from kairos.catalog import load_catalog
from kairos.errors import ConfigError
from kairos.runtime.recorder import append_record

if TYPE_CHECKING:
    from kairos.api.app import Api

PRODUCER = "api"
RefP = Annotated[
    str, PathParam(pattern=r"^dlq\.[a-z0-9-]+:[0-9]{1,6}:[0-9]{1,18}$", description="topic:partition:offset")
]
FunctionQ = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{1,62}$")]


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: Any | None = Field(default=None, description="a fixed payload to send instead of the original data")


def _not_configured() -> HTTPException:
    return HTTPException(503, {"code": "not_configured", "reason": "KAFKA_BOOTSTRAP_SERVERS is not set"})


def router(api: Api) -> APIRouter:
    viewer = Depends(api.role("viewer"))
    admin = Depends(api.role("admin"))
    r = APIRouter(prefix="/api/v1", tags=["dead letters"], responses={401: {}, 403: {}, 404: {}, 422: {}, 429: {}})
    catalog = load_catalog()

    def letters(function: str | None) -> list[dead_letters.DeadLetter]:
        if not api.settings.kafka_bootstrap:
            raise _not_configured()
        try:
            topics = dead_letters.dead_letter_topics(catalog, function)
        except (ConfigError, KeyError) as exc:
            raise HTTPException(404, {"code": "not_found", "reason": str(exc)}) from exc
        return dead_letters.read(api.settings.kafka_bootstrap, topics, profile=api.settings.kafka_profile)

    def one(ref: str) -> dead_letters.DeadLetter:
        try:
            return dead_letters.find(letters(None), ref)
        except ConfigError as exc:
            raise HTTPException(404, {"code": "not_found", "reason": str(exc)}) from exc

    owner = {fn.dead_letter_topic: fn.name for fn in catalog.functions if fn.dead_letter_topic}

    def replays(refs: list[str]) -> dict[str, tuple[Any, str]]:
        """The last successful replay through the API of each ref: (when, by whom).

        Kafka keeps a replayed letter on its topic, so the audit log is what tells an operator
        that one was already sent back.
        """
        if not refs:
            return {}
        with api.pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (target) target, at, username FROM api_audit"
                " WHERE action = 'dead_letter.replay' AND outcome = 'ok' AND target = ANY(%s)"
                " ORDER BY target, at DESC",
                (refs,),
            ).fetchall()
        return {target: (at, username) for target, at, username in rows}

    @r.get("/dead-letters", dependencies=[viewer])
    async def dead_letter_list(function: FunctionQ = None) -> dict[str, Any]:
        """Every dead letter (one function's with ``function``): ref, topic, function, event id, type, event
        time, HTTP code, reason, and when and by whom it was last replayed through the API (null if never)."""
        found = await run_in_threadpool(letters, function)
        replayed = await run_in_threadpool(replays, [x.ref for x in found])
        items = []
        for x in found:
            at, by = replayed.get(x.ref, (None, None))
            items.append(
                {
                    **dead_letters.summary(x),
                    "topic": x.topic,
                    "function": owner.get(x.topic),
                    "time": x.attr("time") or None,
                    "replayed_at": at.isoformat() if at else None,
                    "replayed_by": by,
                }
            )
        return {"items": items}

    @r.get("/dead-letters/{ref}", dependencies=[viewer])
    async def dead_letter_show(ref: RefP) -> dict[str, Any]:
        letter = await run_in_threadpool(one, ref)
        data: Any = letter.event.get_data() if letter.event else letter.raw
        if isinstance(data, bytes):
            try:
                data = json.loads(data)
            except ValueError:
                data = data.decode(errors="replace")
        try:
            original = dead_letters.original_topic(catalog, letter)
        except ConfigError as exc:
            original = f"unknown ({exc})"
        attrs = letter.event.get_attributes() if letter.event else {}
        return {
            **dead_letters.summary(letter),
            "original_topic": original,
            "attributes": {k: str(v) for k, v in attrs.items()},
            "error": letter.error_body(),
            "data": data,
        }

    @r.post("/dead-letters/{ref}/replay")
    async def dead_letter_replay(
        ref: RefP, body: Replay, request: Request, key: IdempotencyKey, user: User = admin
    ) -> Response:
        """Send the event (data fixed with ``data``) back to its original topic through the outbox."""
        letter = await run_in_threadpool(one, ref)

        def effect(conn: psycopg.Connection) -> tuple[int, Any]:
            try:
                topic = dead_letters.original_topic(catalog, letter)
                record = dead_letters.fixed_record(letter, body.data)
            except ConfigError as exc:
                raise HTTPException(422, {"code": "not_replayable", "reason": str(exc)}) from exc
            row = append_record(conn, PRODUCER, topic, letter.event_id or ref, letter.attr("type") or "raw", record)
            return 202, {"ref": ref, "id": letter.event_id, "topic": topic, "outbox_id": row}

        return await api.write(request, user, key, "dead_letter.replay", ref, effect)

    return r
