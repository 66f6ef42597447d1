"""alert-relay against a local HTTP receiver: Telegram and JSON bodies, duplicates by alert id,
the rate limit (never for a critical alert; held-back alerts named in the next message),
retries (5xx, timeouts, 429 with the wait the receiver asks), and the served function."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from kairos.alerting.relay import Relay, RelayConfig, TokenBucket, WebhookFailed
from kairos.contracts.codec import to_http_binary
from kairos.contracts.envelope import Envelope, new_event
from kairos.contracts.ops import Alert
from kairos.errors import ConfigError
from kairos_testkit.functions import runtime_env, served
from pydantic import BaseModel

Answer = tuple[int, dict[str, Any]]


class Receiver:
    """A stand-in for api.telegram.org (or any webhook): records (path, body), answers as scripted."""

    def __init__(self, script: Callable[[int], Answer] | None = None) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.script = script or (lambda n: (200, {"ok": True, "result": {"message_id": n}}))
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.got.append((self.path, body))
                status, reply = receiver.script(len(receiver.got))
                raw = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def alert(code: str = "ORPHAN_ORDER", severity: str = "critical", event_id: str | None = None) -> Envelope[Alert]:
    data = Alert(
        severity=severity,  # type: ignore[arg-type]
        code=code,
        message=f"{code} happened",
        component="reconciler",
        action="cancel it at the venue",
        details={"account": "main"},
    )
    return new_event(data, source="/kairos/reconciler", partition_key="reconciler", event_id=event_id)


def relay(
    url: str, sleeps: list[float] | None = None, clock: Callable[[], float] = time.monotonic, **env: str
) -> Relay:
    cfg = RelayConfig.from_env({"KAIROS_ALERT_WEBHOOK_URL": url, "KAIROS_ALERT_TELEGRAM_CHAT_ID": "-1001", **env})
    return Relay(cfg, sleep=(sleeps.append if sleeps is not None else lambda s: None), clock=clock)


def test_telegram_body_to_the_bot_api_path(receiver: Receiver) -> None:
    r = relay(receiver.base + "/botTEST-TOKEN/sendMessage")
    assert r.handle(alert()) == "sent"
    (path, body), = receiver.got
    assert path == "/botTEST-TOKEN/sendMessage" and body["chat_id"] == "-1001"
    assert "CRITICAL ORPHAN_ORDER (reconciler)" in body["text"] and "Action: cancel it at the venue" in body["text"]
    assert '"account": "main"' in body["text"]


def test_generic_json_body(receiver: Receiver) -> None:
    r = relay(receiver.base + "/hook", KAIROS_ALERT_WEBHOOK_FORMAT="json")
    event = alert("CLOCK_DRIFT", "warning")
    r.handle(event)
    (_, body), = receiver.got
    assert body["id"] == event.meta.id and body["code"] == "CLOCK_DRIFT" and body["severity"] == "warning"
    assert body["component"] == "reconciler" and body["details"] == {"account": "main"}
    assert datetime.fromisoformat(body["time"]) == event.meta.time


def test_the_same_alert_id_is_sent_once(receiver: Receiver) -> None:
    r = relay(receiver.base + "/hook")
    event = alert(event_id="alert-1")
    assert [r.handle(event), r.handle(event)] == ["sent", "duplicate"]
    assert r.handle(alert(event_id="alert-2")) == "sent"
    assert len(receiver.got) == 2


def test_below_min_severity_is_not_sent(receiver: Receiver) -> None:
    r = relay(receiver.base + "/hook", KAIROS_ALERT_MIN_SEVERITY="warning")
    assert r.handle(alert("RECOVERY_COMPLETE", "info")) == "below_severity"
    assert receiver.got == []


def test_5xx_and_timeouts_are_retried_with_backoff() -> None:
    flaky = Receiver(lambda n: (502, {"ok": False}) if n < 3 else (200, {"ok": True}))
    try:
        sleeps: list[float] = []
        r = relay(flaky.base + "/hook", sleeps)
        assert r.handle(alert()) == "sent"
        assert len(flaky.got) == 3 and sleeps == [0.5, 1.0]
    finally:
        flaky.close()
    sleeps = []
    r = relay("http://127.0.0.1:9/nothing-listens", sleeps, KAIROS_ALERT_RETRIES="2")
    with pytest.raises(WebhookFailed, match="ConnectError"):
        r.handle(alert())
    assert sleeps == [0.5, 1.0]


def test_429_waits_what_telegram_asks() -> None:
    limited = Receiver(
        lambda n: (429, {"ok": False, "parameters": {"retry_after": 3}}) if n == 1 else (200, {"ok": True})
    )
    try:
        sleeps: list[float] = []
        assert relay(limited.base + "/hook", sleeps).handle(alert()) == "sent"
        assert sleeps == [3.0]
    finally:
        limited.close()


def test_a_wrong_token_is_not_retried_and_fails_the_delivery() -> None:
    refused = Receiver(lambda n: (401, {"ok": False, "description": "Unauthorized"}))
    try:
        sleeps: list[float] = []
        with pytest.raises(WebhookFailed, match="HTTP 401"):
            relay(refused.base + "/hook", sleeps).handle(alert(event_id="a-401"))
        assert len(refused.got) == 1 and sleeps == []
        # not remembered as sent: the redelivery (or a replay from dlq.alert-relay) sends it
        refused.script = lambda n: (200, {"ok": True})
        r = relay(refused.base + "/hook")
        assert r.handle(alert(event_id="a-401")) == "sent"
    finally:
        refused.close()


def test_rate_limit_holds_back_warnings_never_criticals_and_names_them_next(receiver: Receiver) -> None:
    now = [0.0]
    r = relay(receiver.base + "/hook", clock=lambda: now[0], KAIROS_ALERT_RATE_PER_MINUTE="6",
              KAIROS_ALERT_BURST="2", KAIROS_ALERT_WEBHOOK_FORMAT="json")  # fmt: skip
    outcomes = [r.handle(alert("POSITION_DRIFT", "warning")) for _ in range(4)]
    assert outcomes == ["sent", "sent", "rate_limited", "rate_limited"]
    assert r.handle(alert("ORPHAN_ORDER", "critical")) == "sent"  # a critical alert is never held back
    critical_body = receiver.got[-1][1]
    assert critical_body["suppressed_since_last"] == {"POSITION_DRIFT": 2}
    assert "POSITION_DRIFT x2" in critical_body["text"]
    assert r.handle(alert("POSITION_DRIFT", "warning")) == "rate_limited"  # the bucket is below zero
    now[0] += 30.0  # 6 a minute: 3 tokens back, one owed by the critical
    assert r.handle(alert("POSITION_ADJUSTED", "warning")) == "sent"
    assert receiver.got[-1][1]["suppressed_since_last"] == {"POSITION_DRIFT": 1}
    assert r.handle(alert("POSITION_ADJUSTED", "warning")) == "sent"
    assert receiver.got[-1][1]["suppressed_since_last"] == {}


class OtherAlert(BaseModel):
    """Another stage's alert contract (shape of a risk stage's: its own severity names, more fields)."""

    alert_id: str
    severity: str
    code: str
    message: str
    scope_id: str
    observed: str | None = None


def test_an_alert_of_another_contract_is_sent_with_its_fields_as_details(receiver: Receiver) -> None:
    r = relay(receiver.base + "/hook", KAIROS_ALERT_WEBHOOK_FORMAT="json")
    data = OtherAlert(alert_id="r-1", severity="CRITICAL", code="KILL_SWITCH", message="daily loss", scope_id="main")
    base: Envelope[Any] = alert()
    meta = dataclasses.replace(base.meta, source="/kairos/risk-guardian")
    event = dataclasses.replace(base, meta=meta, data=data)  # as the runtime hands it, another type
    assert r.handle(event) == "sent"
    (_, body), = receiver.got
    assert (body["severity"], body["code"], body["component"]) == ("critical", "KILL_SWITCH", "risk-guardian")
    assert body["details"] == {"alert_id": "r-1", "scope_id": "main"}


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(60, 1, clock=lambda: now[0])
    assert bucket.take() and not bucket.take()
    now[0] += 1.0
    assert bucket.take()


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"KAIROS_ALERT_WEBHOOK_URL": "api.telegram.org/bot1/sendMessage"}, "KAIROS_ALERT_WEBHOOK_URL"),
        ({"KAIROS_ALERT_WEBHOOK_URL": "https://x/sendMessage"}, "KAIROS_ALERT_TELEGRAM_CHAT_ID"),
        ({"KAIROS_ALERT_WEBHOOK_URL": "https://x", "KAIROS_ALERT_WEBHOOK_FORMAT": "xml"}, "FORMAT"),
        ({"KAIROS_ALERT_MIN_SEVERITY": "loud"}, "KAIROS_ALERT_MIN_SEVERITY"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        RelayConfig.from_env(env)


def test_without_a_url_alerts_are_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    r = Relay(RelayConfig.from_env({}))
    with caplog.at_level("WARNING", logger="kairos.alert_relay"):
        assert r.handle(alert()) == "sent"
    assert "logged only" in caplog.text


@pytest.mark.slow
def test_served_relay_sends_each_alert_once_and_refuses_when_the_webhook_fails(
    database_url: str, kafka_bootstrap: str, receiver: Receiver, tmp_path: Path
) -> None:
    answers: list[int] = []
    receiver.script = lambda n: (answers.pop(0) if answers else 200, {"ok": True})
    env = runtime_env(
        database_url,
        kafka_bootstrap,
        KAIROS_ALERT_WEBHOOK_URL=receiver.base + "/botT/sendMessage",
        KAIROS_ALERT_TELEGRAM_CHAT_ID="-42",
        KAIROS_ALERT_RETRIES="1",
    )
    with served("alert-relay", env, tmp_path) as fn:
        event = alert(event_id="ops-alert-1")
        headers, body = to_http_binary(event)
        assert httpx.post(fn.url, headers=headers, content=body, timeout=30).status_code < 300
        assert httpx.post(fn.url, headers=headers, content=body, timeout=30).status_code < 300  # redelivery
        assert len(receiver.got) == 1 and receiver.got[0][1]["chat_id"] == "-42"
        answers.extend([503, 503])
        headers, body = to_http_binary(alert("CLOCK_DRIFT", "warning", event_id="ops-alert-2"))
        resp = httpx.post(fn.url, headers=headers, content=body, timeout=30)
        assert resp.status_code == 503 and "webhook" in resp.text  # the delivery retries, then dead-letters
        assert httpx.post(fn.url, headers=headers, content=body, timeout=30).status_code < 300  # retried: sent
        assert [b["text"].split("\n")[0] for _, b in receiver.got][-1].endswith("CLOCK_DRIFT (reconciler)")
        metrics = httpx.get(fn.url + "/metrics", timeout=10).text
        assert 'kairos_alert_relay_sent_total{severity="critical"} 1.0' in metrics
        assert "kairos_alert_relay_failed_total 1.0" in metrics
    assert datetime.now(UTC) > event.meta.time
