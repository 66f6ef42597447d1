"""The operator API on a real Postgres: authentication, roles, limits, idempotency, audit, reads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import jwt
import psycopg
from fastapi import HTTPException
from kairos.api import tokens
from kairos.api.users import User
from kairos_testkit.operator_api import seed_trade

from tests.api.conftest import SECRET, ApiHarness, limit

HOUR = 3600


def test_login_gives_a_token_that_reads_and_refresh_rotates(api: ApiHarness) -> None:
    client = api.make()
    answer = client.post("/api/v1/auth/login", json={"username": "viewer", "password": "correct horse battery"})
    assert answer.status_code == 200
    body = answer.json()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "viewer", "role": "viewer"}
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200 and again.json()["refresh_token"] != body["refresh_token"]
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert reused.status_code == 401  # single use
    wrong = client.post("/api/v1/auth/login", json={"username": "viewer", "password": "not it at all"})
    assert wrong.status_code == 401
    with psycopg.connect(api.url) as conn:
        stored = conn.execute("SELECT password_hash FROM api_users WHERE username = 'viewer'").fetchone()
    assert stored is not None and stored[0].startswith("$argon2id$")


def test_missing_expired_and_forged_tokens_are_401_and_a_weak_role_403(api: ApiHarness) -> None:
    client = api.make()
    assert client.get("/api/v1/orders").status_code == 401
    user = User("admin", "admin")
    expired = tokens.issue_access(api.settings.tokens, user, now=datetime.now(UTC) - timedelta(hours=2))
    answer = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401 and "expired" in answer.json()["error"]["reason"]
    forged = jwt.encode(
        {"sub": "admin", "role": "admin", "iss": "kairos-api", "exp": int(datetime.now(UTC).timestamp()) + 600},
        "another-key" * 4,
        algorithm="HS256",
    )
    assert client.get("/api/v1/orders", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    none_alg = jwt.encode(
        {"sub": "admin", "role": "admin", "iss": "kairos-api", "exp": int(datetime.now(UTC).timestamp()) + 600},
        key=None,  # type: ignore[arg-type]
        algorithm="none",
    )
    assert client.get("/api/v1/orders", headers={"Authorization": f"Bearer {none_alg}"}).status_code == 401
    viewer = api.login(client, "viewer")
    refused = client.post(
        "/api/v1/kill-switch",
        json={"engaged": True, "reason": "x"},
        headers={**viewer, "Idempotency-Key": "key-00000001"},
    )
    assert refused.status_code == 403
    assert client.get("/api/v1/accounts", headers=api.login(client, "trader")).status_code == 403
    assert client.get("/api/v1/accounts", headers=api.login(client, "admin")).status_code == 200
    assert SECRET not in client.get("/api/v1/openapi.json").text


def test_rate_limit_is_shared_by_two_instances_and_answers_429_with_retry_after(api: ApiHarness) -> None:
    # fixed windows: an hour-long one, so the requests below cannot straddle two windows
    first = api.make(per_user=limit(4, HOUR))
    second = api.make(per_user=limit(4, HOUR))
    headers = api.login(first, "viewer")
    codes = [c.get("/api/v1/me", headers=headers).status_code for c in (first, second, first, second, first)]
    assert codes == [200, 200, 200, 200, 429]
    refused = second.get("/api/v1/me", headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= HOUR
    # another user is not limited by this one
    assert second.get("/api/v1/me", headers=api.login(second, "trader")).status_code == 200


def test_every_read_counts_against_the_shared_limit_on_the_connection_it_reads_with(api: ApiHarness) -> None:
    first = api.make(per_user=limit(3, HOUR))
    second = api.make(per_user=limit(3, HOUR))
    headers = api.login(first, "viewer")
    reads = ["/api/v1/orders", "/api/v1/positions", "/api/v1/pnl", "/api/v1/fills"]
    answers = [c.get(p, headers=headers) for c, p in zip((first, second, first, second), reads, strict=True)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= HOUR
    # "as of" is the database's clock, taken by the statement that counted the read
    with psycopg.connect(api.url) as conn:
        row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    as_of = datetime.fromisoformat(answers[0].json()["as_of"])
    assert timedelta(0) <= row[0] - as_of < timedelta(minutes=1)


def test_a_read_gives_its_connection_back_transactional_even_when_refused(api: ApiHarness) -> None:
    from dataclasses import replace

    from kairos.api.app import Api, Caller
    from kairos.runtime.db import open_pool

    with open_pool(api.url, min_size=1, max_size=1, name="api-test") as pool:
        app = Api(replace(api.settings, per_user=limit(1, HOUR)), pool)
        caller = Caller(User("viewer", "viewer"), "127.0.0.1")
        with app.reading(caller) as (conn, _as_of):
            assert conn.autocommit  # a read needs no BEGIN / COMMIT round trips
        try:
            with app.reading(caller):
                raise AssertionError("the second read is over the limit")
        except HTTPException as refused:
            assert refused.status_code == 429
        with pool.connection() as conn:  # the pool's only connection: writes still get a transaction
            assert not conn.autocommit


def test_rate_limit_per_address_covers_login(api: ApiHarness) -> None:
    client = api.make(per_address=limit(3, HOUR))  # four logins may take seconds: no window edge between them
    codes = [client.post("/api/v1/auth/login", json={"username": "x1", "password": "p"}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def _kill_switch_rows(url: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with psycopg.connect(url) as conn:
        control = conn.execute("SELECT scope_kind, scope_id, engaged, reason, actor FROM risk_kill_switches").fetchall()
        trail = conn.execute(
            "SELECT username, role, action, target, idempotency_key, outcome, status FROM api_audit ORDER BY id"
        ).fetchall()
    return control, trail


def test_idempotent_write_same_key_same_answer_one_effect_one_audit_row(api: ApiHarness) -> None:
    client = api.make()
    headers = {**api.login(client, "trader"), "Idempotency-Key": "engage-0001"}
    body = {"engaged": True, "reason": "venue outage"}
    first = client.post("/api/v1/kill-switch", json=body, headers=headers)
    assert first.status_code == 200
    with psycopg.connect(api.url) as conn:
        conn.execute("UPDATE risk_kill_switches SET reason = 'changed since'")
    second = client.post("/api/v1/kill-switch", json=body, headers=headers)
    assert second.status_code == 200 and second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    control, trail = _kill_switch_rows(api.url)
    assert control == [("global", "*", True, "changed since", "api:trader")]  # no second effect
    assert trail == [("trader", "trader", "kill_switch.engage", "global:*", "engage-0001", "ok", 200)]
    other = client.post("/api/v1/kill-switch", json={"engaged": False, "reason": "x"}, headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    missing = client.post("/api/v1/kill-switch", json=body, headers=api.login(client, "trader"))
    assert missing.status_code == 422
    assert any("Idempotency-Key" in f["loc"] for f in missing.json()["error"]["fields"])


def test_two_concurrent_writes_with_one_key_have_one_effect(api: ApiHarness) -> None:
    clients = [api.make(), api.make()]
    headers = {**api.login(clients[0], "trader"), "Idempotency-Key": "concurrent-01"}
    answers: list[int] = []
    barrier = threading.Barrier(2)

    def send(client: object) -> None:
        barrier.wait()
        r = client.post("/api/v1/kill-switch", json={"engaged": True, "reason": "both"}, headers=headers)  # type: ignore[attr-defined]
        answers.append(r.status_code)

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200, 200]
    _, trail = _kill_switch_rows(api.url)
    assert len(trail) == 1


def test_bad_input_is_422_with_fields_413_when_oversized_404_for_unknown_routes(api: ApiHarness) -> None:
    client = api.make(max_body_bytes=2048)
    headers = {**api.login(client, "trader"), "Idempotency-Key": "bad-input-1"}
    bad = client.post("/api/v1/kill-switch", json={"engaged": "maybe", "extra": 1}, headers=headers)
    assert bad.status_code == 422
    locs = [tuple(f["loc"]) for f in bad.json()["error"]["fields"]]
    assert ("body", "engaged") in locs and ("body", "extra") in locs
    big = client.post("/api/v1/kill-switch", content=b"{" + b" " * 5000 + b"}", headers=headers)
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    assert client.get("/api/v1/nothing-here", headers=headers).status_code == 404
    assert client.get("/api/v1/ohlcv/not a symbol", headers=headers).status_code == 422
    assert client.get("/api/v1/orders?limit=0", headers=headers).status_code == 422
    assert (
        client.post("/api/v1/auth/login", content=b"not json", headers={"content-type": "application/json"}).status_code
        == 422
    )


def test_reads_carry_as_of_positions_show_protection_and_pnl(api: ApiHarness) -> None:
    seed_trade(api.url)
    client = api.make()
    headers = api.login(client, "viewer")
    positions = client.get("/api/v1/positions", headers=headers).json()
    assert positions["as_of"]
    [p] = positions["items"]
    assert p["unrealised_pnl"] == "20" and p["protection"]["state"] == "unprotected"
    orders = client.get("/api/v1/orders", headers=headers).json()
    assert [o["command_id"] for o in orders["items"]] == ["cmd-1"] and orders["as_of"]
    fills = client.get("/api/v1/fills", headers=headers).json()
    assert fills["items"][0]["price"] == "100" and fills["items"][0]["symbol"] == "BTC/USDT:USDT"
    pnl = client.get("/api/v1/pnl", headers=headers).json()
    assert pnl["unrealised"] == "20" and pnl["open_positions"] == 1 and pnl["as_of"]
    market = client.get("/api/v1/market-data/BTC/USDT:USDT", headers=headers).json()
    assert market["mark"]["price"] == "110"
    assert client.get("/api/v1/market-data/ETH/USDT:USDT", headers=headers).status_code == 404
    slo = client.get("/api/v1/protection/slo", headers=headers).json()
    assert [u["position_id"] for u in slo["unprotected"]] == ["pos-1"]


def test_an_account_key_is_sealed_at_once_and_never_returned(api: ApiHarness, monkeypatch: object) -> None:
    from kairos.execution.vault import KEK_ENV, generate_kek

    monkeypatch.setenv(KEK_ENV, generate_kek())  # type: ignore[attr-defined]
    client = api.make()
    headers = {**api.login(client, "admin"), "Idempotency-Key": "account-0001"}
    body = {
        "account": "main",
        "venue": "binanceusdm",
        "mode": "live",
        "api_key": "PLAINKEY123",
        "secret": "PLAINSECRET",
    }
    answer = client.post("/api/v1/accounts", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    listed = client.get("/api/v1/accounts", headers=headers)
    assert "PLAIN" not in answer.text + listed.text and listed.json()["items"][0]["has_keys"] is True
    with psycopg.connect(api.url) as conn:
        blob = conn.execute("SELECT key_ciphertext FROM exec_accounts").fetchone()
        logged = conn.execute("SELECT request::text FROM api_audit").fetchone()
    assert blob is not None and b"PLAIN" not in bytes(blob[0])
    assert logged is not None and "PLAIN" not in logged[0]
    nul = client.post(  # Postgres text cannot hold NUL: the client's input, so 422 and not a 500
        "/api/v1/accounts",
        json={**body, "account": "other", "base_url": "http://a\u0000b"},
        headers={**headers, "Idempotency-Key": "account-0002"},
    )
    assert nul.status_code == 422 and nul.json()["error"]["code"] == "invalid_value", nul.text


def test_reconcile_now_without_a_reconciler_is_503_and_keeps_the_key_free(api: ApiHarness) -> None:
    client = api.make()
    headers = {**api.login(client, "trader"), "Idempotency-Key": "reconcile-01"}
    assert client.post("/api/v1/reconcile", headers=headers).status_code == 503
    with psycopg.connect(api.url) as conn:
        kept = conn.execute("SELECT count(*) FROM api_idempotency").fetchone()
        audited = conn.execute("SELECT outcome, status FROM api_audit").fetchall()
    assert kept == (0,) and audited == [("not_configured", 503)]
