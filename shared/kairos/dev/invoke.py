"""``kairos invoke FUNCTION --type T --data JSON|@file``: one CloudEvent, like ``func invoke``.

The event is built the way Kairos's own producers build them (schema version, partition
key, correlation id, ingested-at), sent in binary mode to the function's port as
``kairos dev`` recorded it in ``run.json`` (or ``--url``), and the answer is printed:
status, outcome, error reason, and every event the function emitted, read back from the
outbox (a function publishes its own outputs; the HTTP reply carries only their ids).

``--format structured`` sends structured mode (``application/cloudevents+json``) instead,
as ``func invoke --format`` does. An emitted event is listed once even when its outbox row
was written again (a stored result re-emitted).

``--in-process`` loads the function and calls its handler path without a server or a
delivery, against the running system's Postgres and broker: the way to step through a
handler in a debugger. An unknown function name is an error naming the known ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cloudevents.core.v1.event import CloudEvent

from kairos.contracts.codec import cloudevent_to_http_binary, cloudevent_to_http_structured
from kairos.dev.state import StateDir, default_state_dir, read_live_run_info
from kairos.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("function", help="catalog name of the function")
    parser.add_argument("--type", required=True, dest="event_type", help="CloudEvent type (kairos.norm.swap_demand)")
    parser.add_argument("--data", required=True, help="JSON payload, or @path of a JSON file")
    parser.add_argument("--id", dest="event_id", help="event id (default: a new UUID; reuse one to see dedupe)")
    parser.add_argument("--source", default="/kairos/invoke", help="CloudEvent source")
    parser.add_argument("--schema-version", type=int, default=1)
    parser.add_argument("--key", help="partition key (default: the event id)")
    parser.add_argument("--correlation-id", help="default: the event id")
    parser.add_argument("--url", help="function URL (default: from the running kairos dev)")
    parser.add_argument(
        "--format", choices=("binary", "structured"), default="binary", help="HTTP content mode (default binary)"
    )
    parser.add_argument("--in-process", action="store_true", help="run the handler here, without a server")
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def load_data(text: str) -> Any:
    """``--data``: inline JSON or ``@file``; ConfigError naming the problem."""
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read --data file {path}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--data is not JSON ({exc}); quote it for the shell or use @file") from exc


def build_event(args: argparse.Namespace, data: Any) -> CloudEvent:
    event_id = args.event_id or str(uuid.uuid4())
    now = datetime.now(UTC)
    return CloudEvent(
        attributes={
            "id": event_id,
            "type": args.event_type,
            "source": args.source,
            "specversion": "1.0",
            "time": now,
            "datacontenttype": "application/json",
            "ingestedat": now.isoformat().replace("+00:00", "Z"),
            "schemaversion": str(args.schema_version),
            "partitionkey": args.key or event_id,
            "correlationid": args.correlation_id or event_id,
        },
        data=data,
    )


def emitted_events(database_url: str, ids: list[str], wait: float = 2.0) -> list[dict[str, Any]]:
    """The outbox rows of the emitted event ids: topic, type, published or not, payload.

    Publishing follows the commit, so the rows are given ``wait`` seconds to be published.
    """
    if not ids or not database_url:
        return []
    deadline = time.monotonic() + wait
    while True:
        rows = _outbox_rows(database_url, ids)
        if all(r["published"] for r in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def _outbox_rows(database_url: str, ids: list[str]) -> list[dict[str, Any]]:
    """One row per event id (its latest): a stored result that was emitted again has a
    second outbox row with the same event id, and it is still one event."""
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT event_id, event_type, topic, published, value FROM ("
            " SELECT DISTINCT ON (event_id) id, event_id, event_type, topic, published_at IS NOT NULL AS published,"
            " value FROM outbox WHERE event_id = ANY(%s) ORDER BY event_id, id DESC) latest ORDER BY id",
            (list(dict.fromkeys(ids)),),
        ).fetchall()
    out = []
    for event_id, event_type, topic, published, value in rows:
        try:
            payload: Any = json.loads(bytes(value))
        except (ValueError, TypeError):
            payload = bytes(value).decode(errors="replace")
        out.append({"id": event_id, "type": event_type, "topic": topic, "published": published, "data": payload})
    return out


def send_http(url: str, ce: CloudEvent, content_mode: str = "binary") -> dict[str, Any]:
    encode = cloudevent_to_http_structured if content_mode == "structured" else cloudevent_to_http_binary
    headers, body = encode(ce)
    try:
        resp = httpx.post(url, headers=headers, content=body, timeout=30)
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot reach {url}: {exc}; is the function running ('kairos status')?") from exc
    emitted = list(dict.fromkeys(i for i in resp.headers.get("x-kairos-emitted", "").split(",") if i))
    try:
        error = resp.json().get("error") if resp.content else None
    except ValueError:
        error = {"reason": resp.text[:500]}
    return {
        "status": resp.status_code,
        "outcome": resp.headers.get("x-kairos-outcome"),
        "error": error,
        "emitted_ids": emitted,
    }


def known_function(function: str) -> None:
    """ConfigError naming the catalog's functions when ``function`` is not one of them."""
    from kairos.catalog import load_catalog

    names = sorted(fn.name for fn in load_catalog().functions)
    if function not in names:
        raise ConfigError(f"unknown function {function!r}; the catalog has: {', '.join(names)}")


def run_in_process(function: str, env: dict[str, str], ce: CloudEvent) -> dict[str, Any]:
    from kairos.catalog import load_catalog
    from kairos.runtime.loader import load_func_module

    fn = load_func_module(function).new()
    fn.start({**load_catalog().function(function).env, **env})
    try:
        fn.wait_ready(30)
        outcome = fn.process(ce)
    finally:
        fn.stop()
    error = None if outcome.status < 300 else {"code": outcome.code, "reason": outcome.reason}
    code = "duplicate" if outcome.duplicate else outcome.code
    return {
        "status": outcome.status,
        "outcome": code,
        "error": error,
        "emitted_ids": list(dict.fromkeys(outcome.emitted)),
    }


def run(args: argparse.Namespace) -> int:
    import os

    try:
        known_function(args.function)
        data = load_data(args.data)
        ce = build_event(args, data)
        info = None
        if not args.url or args.in_process:
            try:
                info = read_live_run_info(StateDir(args.state_dir or default_state_dir()))
            except ConfigError:
                if not (args.in_process and os.environ.get("DATABASE_URL")):
                    raise
        database_url = info.database_url if info else os.environ.get("DATABASE_URL", "")
        if args.in_process:
            env = {**os.environ}
            if info:
                env.update(
                    {
                        "DATABASE_URL": info.database_url,
                        "KAFKA_BOOTSTRAP_SERVERS": info.kafka_bootstrap,
                        "KAIROS_KAFKA_PROFILE": info.kafka_profile,
                        **info.venue,
                    }
                )
            result = run_in_process(args.function, env, ce)
        else:
            url = args.url or (info.function_url(args.function) if info else "")
            result = send_http(url, ce, args.format)
        result["event_id"] = ce.get_id()
        result["emitted"] = emitted_events(database_url, result["emitted_ids"])
    except ConfigError as exc:
        print(f"kairos invoke: {exc}", file=sys.stderr)
        return 2
    print_result(result, as_json=args.json)
    return 0 if result["status"] < 300 else 1


def print_result(result: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, default=str))
        return
    print(f"event {result['event_id']}: HTTP {result['status']} outcome={result['outcome']}")
    if result["error"]:
        print(f"  error: {result['error'].get('code', '')} {result['error'].get('reason', '')}".rstrip())
    if not result["emitted_ids"]:
        print("  emitted nothing")
    for ev in result["emitted"]:
        state = "published" if ev["published"] else "in outbox, not yet published"
        print(f"  emitted {ev['type']} {ev['id']} -> {ev['topic']} ({state})")
        print("    " + json.dumps(ev["data"], default=str)[:2000])
