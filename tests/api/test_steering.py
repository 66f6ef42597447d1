"""Strategies and backtests through the API: the strategies library does the work, the API
adds roles, idempotency, the audit log and the outbox announcement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.api.conftest import ApiHarness

EXAMPLE = Path(__file__).resolve().parents[2] / "strategies" / "sma-crossover.yaml"


def document() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return doc


def _account(url: str, name: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO exec_accounts (account, venue, mode) VALUES (%s, 'binanceusdm', 'shadow')", (name,))


def test_create_validate_start_stop_a_strategy(api: ApiHarness) -> None:
    doc = document()
    _account(api.url, doc["account"])
    client = api.make()
    trader = api.login(client, "trader")
    bad = client.post(
        "/api/v1/strategies/validate", json={"document": {**doc, "sizing": {"type": "moon"}}}, headers=trader
    )
    assert bad.status_code == 200 and bad.json()["valid"] is False and bad.json()["fields"]
    pasted = client.post(  # the dashboard sends the pasted YAML/JSON text; problems keep their path
        "/api/v1/strategies/validate", json={"text": "name: x\nsizing: {type: moon}\n"}, headers=trader
    )
    assert pasted.status_code == 200 and pasted.json()["valid"] is False
    assert "sizing" in [f["loc"] for f in pasted.json()["fields"]], pasted.json()
    assert all({"expected", "found"} <= f.keys() for f in pasted.json()["fields"])
    broken = client.post("/api/v1/strategies/validate", json={"text": "name: [unclosed"}, headers=trader).json()
    assert broken["valid"] is False and "syntax error" in broken["fields"][0]["found"]
    both = client.post("/api/v1/strategies/validate", json={"text": "a: 1", "document": {}}, headers=trader)
    assert both.status_code == 422
    refused = client.post(
        "/api/v1/strategies", json={"document": {"name": "x"}}, headers={**trader, "Idempotency-Key": "create-bad-1"}
    )
    assert refused.status_code == 422 and refused.json()["error"]["fields"]
    created = client.post(
        "/api/v1/strategies", json={"document": doc}, headers={**trader, "Idempotency-Key": "create-1"}
    )
    assert created.status_code == 201, created.text
    sid = created.json()["strategy_id"]
    viewer = api.login(client, "viewer")
    assert (
        client.post(
            f"/api/v1/strategies/{sid}/start", json={}, headers={**viewer, "Idempotency-Key": "start-by-viewer"}
        ).status_code
        == 403
    )
    started = client.post(
        f"/api/v1/strategies/{sid}/start", json={}, headers={**trader, "Idempotency-Key": "start-0001"}
    )
    assert started.status_code == 200, started.text
    listed = client.get("/api/v1/strategies", headers=viewer).json()["items"]
    assert [(s["strategy_id"], s["state"]) for s in listed] == [(sid, "RUNNING")]
    stopped = client.post(
        f"/api/v1/strategies/{sid}/stop", json={"reason": "enough"}, headers={**trader, "Idempotency-Key": "stop-0001"}
    )
    assert stopped.status_code == 200 and stopped.json()["was_running"] is True
    again = client.post(
        f"/api/v1/strategies/{sid}/stop", json={"reason": "enough"}, headers={**trader, "Idempotency-Key": "stop-0001"}
    )
    assert again.json() == stopped.json()
    with psycopg.connect(api.url) as conn:
        announced = conn.execute("SELECT event_type FROM outbox WHERE producer = 'api' ORDER BY id").fetchall()
        trail = conn.execute(
            "SELECT action, target, outcome FROM api_audit WHERE outcome = 'ok' ORDER BY id"
        ).fetchall()
        state = conn.execute("SELECT state, state_changed_by FROM strategies").fetchone()
    assert announced == [("kairos.strategy.started",), ("kairos.strategy.stopped",)]
    assert trail == [("strategy.create", sid, "ok"), ("strategy.start", sid, "ok"), ("strategy.stop", sid, "ok")]
    assert state == ("STOPPED", "api:trader")
    unknown = client.post(
        "/api/v1/strategies/no-such/stop", json={}, headers={**trader, "Idempotency-Key": "stop-0002"}
    )
    assert 400 <= unknown.status_code < 500
    shown = client.get(f"/api/v1/strategies/{sid}", headers=viewer).json()
    assert shown["document"]["name"] == sid and shown["latest_version"] == 1


def test_backtests_list_and_unknown_result(api: ApiHarness) -> None:
    client = api.make()
    viewer = api.login(client, "viewer")
    assert client.get("/api/v1/backtests", headers=viewer).json()["items"] == []
    assert client.get("/api/v1/backtests/no-such-run", headers=viewer).status_code == 404
    assert client.get("/api/v1/signals", headers=viewer).json()["items"] == []
    trader = api.login(client, "trader")
    body = {
        "strategy_id": "nothing-here",
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-02T00:00:00Z",
        "balance": "1000",
    }
    refused = client.post("/api/v1/backtests", json=body, headers={**trader, "Idempotency-Key": "bt-0001"})
    assert refused.status_code == 422, refused.text


def _backtestable(api: ApiHarness) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """Candles and the SMA test strategy stored; (client, a trader's headers, a request body)."""
    from tests.backtest.conftest import BTC, create_strategy, sma_doc, store_candles, walk

    store_candles(api.url, BTC, walk(300, 4))
    create_strategy(api.url, sma_doc())
    client = api.make()
    body = {"strategy_id": "sma-test", "symbols": [BTC], "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T05:00:00Z", "balance": "1000"}  # fmt: skip
    return client, api.login(client, "trader"), body


def test_a_submitted_backtest_runs_and_is_stored(api: ApiHarness) -> None:
    """A backtest that runs (not only a refused one): the run commits inside the write's transaction."""
    client, trader, body = _backtestable(api)
    done = client.post("/api/v1/backtests", json=body, headers={**trader, "Idempotency-Key": "bt-submit-0002"})
    assert done.status_code == 201, done.text
    run_id = done.json()["run_id"]
    viewer = api.login(client, "viewer")
    assert client.get(f"/api/v1/backtests/{run_id}", headers=viewer).status_code == 200


def test_a_submitted_backtest_takes_its_own_risk_limits_and_names_an_unknown_one(api: ApiHarness) -> None:
    client, trader, body = _backtestable(api)
    capped = {**body, "risk_limits": {"account": {"max_order_notional": "1"}}}
    done = client.post("/api/v1/backtests", json=capped, headers={**trader, "Idempotency-Key": "bt-limits-0001"})
    assert done.status_code == 201, done.text
    result = client.get(f"/api/v1/backtests/{done.json()['run_id']}", headers=trader).json()
    assert result["request"]["risk_limits"] == {"account": {"max_order_notional": "1"}}
    assert result["trades"] == [] and {r["reason_code"] for r in result["rejections"]} == {"MAX_ORDER_NOTIONAL"}
    wrong = {**body, "risk_limits": {"account": {"max_leverage_x": "3"}}}
    refused = client.post("/api/v1/backtests", json=wrong, headers={**trader, "Idempotency-Key": "bt-limits-0002"})
    assert refused.status_code == 422 and "max_leverage_x" in refused.text
