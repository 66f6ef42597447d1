"""Any bytes a client can send to a served function get a 4xx with a JSON reason, never a
500, and an event without its required attributes is refused before any SDK default fills
them in (the HTTP edge, ``kairos.runtime.ingress``, in front of func-python)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from kairos.contracts.codec import to_http_binary, to_http_structured
from kairos_testkit.events import quote_event
from kairos_testkit.functions import ServedFunction, runtime_env, served
from kairos_testkit.topics import create_topics


@pytest.fixture(scope="module")
def function(kafka_bootstrap, new_database, tmp_path_factory) -> Iterator[tuple[ServedFunction, str]]:
    create_topics(kafka_bootstrap)
    url = new_database("ingress")
    env = runtime_env(url, kafka_bootstrap, KAIROS_MAX_EVENT_BYTES="65536")
    with served("normalize-near-intents", env, tmp_path_factory.mktemp("ingress")) as fn:
        yield fn, url


def binary(quote_id: str, drop: str | None = None, **override: str) -> tuple[dict[str, str], bytes]:
    headers, body = to_http_binary(quote_event(quote_id))
    headers = {k.lower(): v for k, v in headers.items()}
    if drop:
        del headers[f"ce-{drop}"]
    headers.update({f"ce-{k}": v for k, v in override.items()})
    return headers, body


def structured(quote_id: str, drop: str | None = None) -> tuple[dict[str, str], bytes]:
    headers, body = to_http_structured(quote_event(quote_id))
    obj = json.loads(body)
    if drop:
        del obj[drop]
    return headers, json.dumps(obj).encode()


CE_JSON = {"content-type": "application/cloudevents+json"}

CASES = {
    "binary without id": (*binary("no-id", drop="id"), 400, "missing_attribute", "id"),
    "binary without specversion": (*binary("no-sv", drop="specversion"), 400, "missing_attribute", "specversion"),
    "binary without source": (*binary("no-src", drop="source"), 400, "missing_attribute", "source"),
    "binary without type": (*binary("no-type", drop="type"), 400, "missing_attribute", "type"),
    "binary without time": (*binary("no-time", drop="time"), 400, "missing_attribute", "time"),
    "binary with specversion 0.3": (*binary("sv03", specversion="0.3"), 400, "invalid_attribute", "specversion"),
    "binary with a bad time": (*binary("bad-time", time="yesterday"), 400, "invalid_attribute", "time"),
    "structured without id": (*structured("s-no-id", drop="id"), 400, "missing_attribute", "id"),
    "structured without specversion": (
        *structured("s-no-sv", drop="specversion"),
        400,
        "missing_attribute",
        "specversion",
    ),
    "structured body a JSON string": (CE_JSON, b'"hello"', 400, "malformed_event", None),
    "structured body malformed JSON": (CE_JSON, b'{"id": ', 400, "malformed_event", None),
    "structured body not UTF-8": (CE_JSON, b'{"id": "\xff\xfe"}', 400, "malformed_event", None),
    "batch mode": (
        {"content-type": "application/cloudevents-batch+json"},
        json.dumps([json.loads(structured("b1")[1])]).encode(),
        400,
        "malformed_event",
        None,
    ),
    "plain JSON": ({"content-type": "application/json"}, b'{"quote": 1}', 400, "malformed_event", None),
    "empty request": ({}, b"", 400, "malformed_event", None),
    "too large": (CE_JSON, b"x" * (65536 + 70_000), 413, "event_too_large", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_requests_get_a_4xx_with_a_json_reason_naming_the_attribute(function, case):
    fn, _ = function
    headers, body, status, code, attribute = CASES[case]
    resp = httpx.post(fn.url, headers=headers, content=body, timeout=10)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and error["reason"]
    assert error.get("attribute") == attribute


def test_a_header_that_is_not_utf8_gets_400_not_500(function):
    fn, _ = function
    headers, body = binary("latin")
    raw = [(k.encode(), v.encode()) for k, v in headers.items() if k != "ce-subject"]
    raw.append((b"ce-subject", b"caf\xe9"))
    resp = httpx.post(fn.url, headers=raw, content=body, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"] == {
        "code": "invalid_attribute",
        "reason": "header 'ce-subject' is not valid UTF-8",
        "attribute": "subject",
    }


def test_an_id_less_event_sent_twice_changes_nothing(function):
    fn, url = function
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM inbox").fetchone()
    for _ in range(2):
        headers, body = binary("twice", drop="id")
        assert httpx.post(fn.url, headers=headers, content=body, timeout=10).status_code == 400
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM inbox").fetchone() == before


@pytest.mark.parametrize("mode", [binary, structured])
def test_valid_events_in_both_modes_pass_the_edge(function, mode):
    fn, _ = function
    headers, body = mode(f"ok-{mode.__name__}")
    resp = httpx.post(fn.url, headers=headers, content=body, timeout=10)
    assert resp.status_code == 204, resp.text


@pytest.mark.parametrize("received_at", [1700000000, 1.7e9, "1700000000", "2024-01-01"])
def test_a_payload_the_schema_forbids_is_refused_not_read_leniently(function, received_at):
    """Strict parsing at the boundary: a timestamp is an RFC 3339 string, never a number
    (lax parsing read 1700000000 as a date and handled the event)."""
    fn, _ = function
    headers, body = to_http_binary(quote_event("lax-time"))
    data = json.loads(body)
    data["received_at"] = received_at
    resp = httpx.post(fn.url, headers=headers, content=json.dumps(data).encode(), timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_event" and "received_at" in resp.json()["error"]["reason"]


def test_readiness_names_the_function(function):
    fn, _ = function
    resp = httpx.get(fn.url + "/health/readiness", timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"function": "normalize-near-intents", "ready": True, "reason": "ready"}
