"""Injected faults reach ccxt as the real venue's failures would, deterministically by seed."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import ccxt
import pytest
from kairos.venue_sim.faults import FaultState, load_fault_file
from kairos_testkit.venue_sim import BTC, ETH, START_MS, VenueSimHandle, running_venue_sim


def test_latency_fault_delays_the_matching_endpoint_only(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults([{"kind": "latency", "endpoint": "GET /fapi/v1/ticker/24hr", "latency_ms": 200}])
    t0 = time.perf_counter()
    ex.fetch_ticker(BTC)
    assert time.perf_counter() - t0 >= 0.2
    records = sim.control.audit()
    assert records[-1]["faults"] == ["latency"] and records[-1]["path"] == "/fapi/v1/ticker/24hr"


def test_http_5xx_fault_raises_exchange_not_available(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults([{"kind": "http_error", "endpoint": "GET /fapi/v3/account", "status": 502, "count": 1}])
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.fetch_balance()
    assert ex.fetch_balance()["USDT"]["total"] == 100000.0  # count=1: the retry succeeds


def test_rate_limit_fault_answers_429_with_retry_after(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults([{"kind": "rate_limit", "endpoint": "*", "retry_after_s": 7}])
    with pytest.raises(ccxt.DDoSProtection):
        ex.fetch_ticker(BTC)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(sim.base_url + "/fapi/v1/ping", timeout=5)
    assert info.value.code == 429 and info.value.headers["Retry-After"] == "7"


def test_ban_fault_answers_418_as_ddos_protection(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults([{"kind": "ban", "endpoint": "POST /fapi/v1/order"}])
    with pytest.raises(ccxt.DDoSProtection):
        ex.create_order(ETH, "market", "buy", 0.1)
    assert sim.control.orders()["orders"] == []  # a banned request never reaches the engine


def test_lost_response_leaves_an_order_that_fetch_by_client_order_id_finds(sim: VenueSimHandle) -> None:
    client = sim.ccxt(config={"timeout": 800})
    client.load_markets()
    sim.control.set_faults([{"kind": "lost_response", "endpoint": "POST /fapi/v1/order", "hold_ms": 1500,
                             "count": 1}])  # fmt: skip
    with pytest.raises(ccxt.RequestTimeout):
        client.create_order(ETH, "market", "buy", 0.1, params={"newClientOrderId": "kairos-lost-1"})
    found = client.fetch_order(None, ETH, params={"origClientOrderId": "kairos-lost-1"})
    assert found["status"] == "closed" and found["filled"] == 0.1
    posts = [r for r in sim.control.audit() if r["method"] == "POST" and r["path"] == "/fapi/v1/order"]
    assert posts[0]["faults"] == ["lost_response"] and posts[0]["status"] == 200


def test_delayed_fill_acknowledges_new_and_fills_after_the_delay(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults([{"kind": "delayed_fill", "endpoint": "POST /fapi/v1/order", "delay_ms": 3000}])
    order = ex.create_order(ETH, "market", "buy", 0.1)
    assert order["status"] == "open" and order["filled"] == 0
    sim.control.step(ticks=2)
    assert ex.fetch_order(order["id"], ETH)["status"] == "open"
    sim.control.step(ticks=1)
    assert ex.fetch_order(order["id"], ETH)["status"] == "closed"


def test_clock_skew_shifts_server_time_and_provokes_1021(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults(clock_offset_ms=45_000)
    assert ex.fetch_time() - ex.milliseconds() > 40_000
    with pytest.raises(ccxt.InvalidNonce):
        ex.fetch_open_orders(ETH)
    ex.options["timeDifference"] = ex.milliseconds() - ex.fetch_time()  # what adjustForTimeDifference does
    assert ex.fetch_open_orders(ETH) == []


def test_maintenance_makes_every_binance_endpoint_503_but_not_the_control_api(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults(maintenance=True)
    with pytest.raises(ccxt.OnMaintenance):
        ex.fetch_ticker(BTC)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.fetch_balance()
    assert sim.control.health()["ok"] is True
    sim.control.clear_faults()
    assert ex.fetch_ticker(BTC)["last"] > 0


def test_probabilistic_faults_hit_the_same_requests_for_the_same_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        state = FaultState(seed=seed)
        state.configure({"rules": [{"kind": "http_error", "endpoint": "GET /fapi/*", "probability": 0.3}]})
        return [bool(state.decide("GET", "/fapi/v1/depth")) for _ in range(200)]

    assert pattern(11) == pattern(11)
    assert pattern(11) != pattern(12)
    assert 30 < sum(pattern(11)) < 90


def test_fault_file_configures_the_venue_at_start(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("clock_offset_ms: 0\nrules:\n  - kind: http_error\n    endpoint: GET /fapi/v1/time\n    count: 1\n")
    with running_venue_sim(seed=3, faults=load_fault_file(path), warmup_ticks=10, start_ms=START_MS) as sim:
        client = sim.ccxt()
        with pytest.raises(ccxt.ExchangeNotAvailable):
            client.fetch_time()
        assert client.fetch_time() > 0
        assert json.loads(json.dumps(sim.control.audit()))[0]["faults"] == ["http_error"]


def test_unknown_fault_kind_is_refused_with_the_allowed_kinds(sim: VenueSimHandle) -> None:
    with pytest.raises(RuntimeError, match="unknown fault kind 'explode'"):
        sim.control.set_faults([{"kind": "explode"}])


def test_lost_response_shorter_than_client_timeout_is_a_dropped_connection(sim: VenueSimHandle, ex: Any) -> None:
    sim.control.set_faults([{"kind": "lost_response", "endpoint": "POST /fapi/v1/order", "hold_ms": 200}])
    with pytest.raises(ccxt.NetworkError):
        ex.create_order(ETH, "market", "buy", 0.1, params={"newClientOrderId": "kairos-drop-1"})
    sim.control.clear_faults()
    assert ex.fetch_order(None, ETH, params={"origClientOrderId": "kairos-drop-1"})["filled"] == 0.1
