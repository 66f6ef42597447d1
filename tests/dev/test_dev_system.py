"""``kairos dev`` on an empty state folder, and the operator commands against it.

One real system for the module (embedded Postgres and Tansu started by the runner, every
function its own process): it must produce trade results, answer ``status``, ``invoke``
and ``dlq`` (the fake bus sends a malformed quote now and then, so dead letters exist),
restart a function that is killed, and stop on SIGINT leaving no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from kairos.dev.topics import read_topics
from kairos.venues.near_intents.assets import KNOWN_ASSETS
from kairos_testkit.dev_system import DevSystem, as_json, start_dev
from kairos_testkit.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevSystem]:
    dev = start_dev(tmp_path_factory.mktemp("dev") / "state", "--rate", "20", "--malformed-every", "4")
    try:
        dev.wait_running()
        yield dev
    finally:
        if dev.process.poll() is None:
            dev.kill()


def fixed_quote(data: dict[str, Any]) -> dict[str, Any]:
    """A malformed fake quote with its bad amount replaced by a sensible one (100 units of its asset)."""
    params = data["message"]["params"]
    for amount, asset in (
        ("exact_amount_in", "defuse_asset_identifier_in"),
        ("exact_amount_out", "defuse_asset_identifier_out"),
    ):
        if params.get(amount) == "-1.5":
            params[amount] = str(100 * 10 ** KNOWN_ASSETS[params[asset]][1])  # 100 units: within the reactor's bounds
    return data


def test_an_empty_state_folder_comes_up_and_produces_trade_results(system: DevSystem) -> None:
    info = system.info()
    assert info.ready_seconds is not None and info.ready_seconds < 60
    assert (system.state_dir / "postgres").is_dir()
    assert {"normalize-near-intents", "reactor", "executor", "trade-results", "outbox-relay"} <= set(info.functions())
    wait_until(lambda: system.count_results() >= 5, timeout=60, message="5 trade results")


def test_status_shows_every_function_ready_the_dead_letters_and_the_backlog(system: DevSystem) -> None:
    wait_until(lambda: system.count_results() >= 1, timeout=60, message="a trade result")
    report = as_json(system.kairos("status", "--json"))
    assert all(f["ready"] and f["alive"] for f in report["functions"].values()), report["functions"]
    assert isinstance(report["outbox_backlog"], int)
    assert report["topic_end_offsets"]["raw.near_intents.quote"] > 0
    subs = {s["name"]: s for s in report["subscriptions"]}
    assert subs["normalize-near-intents--raw-near-intents-quote"]["delivered"] > 0
    plain = system.kairos("status")
    assert "functions:" in plain.stdout and "outbox backlog:" in plain.stdout


def a_valid_raw_quote(system: DevSystem) -> dict[str, Any]:
    info = system.info()
    for rec in read_topics(info.kafka_bootstrap, ["raw.near_intents.quote"]):
        data = json.loads(rec.value)
        if "-1.5" not in rec.value.decode():
            return dict(data)
    raise AssertionError("no valid quote on raw.near_intents.quote yet")


def test_invoke_sends_one_event_prints_what_it_emitted_and_dedupes_a_repeat(system: DevSystem, tmp_path: Any) -> None:
    path = tmp_path / "quote.json"
    path.write_text(json.dumps(a_valid_raw_quote(system)))
    args = ["invoke", "normalize-near-intents", "--type", "kairos.raw.near_intents.quote", "--data", f"@{path}"]
    first = as_json(system.kairos(*args, "--id", "invoke-test-1", "--json"))
    assert first["status"] == 204 and first["outcome"] == "handled"
    assert [e["topic"] for e in first["emitted"]] == ["norm.swap_demand"]
    assert first["emitted"][0]["type"] == "kairos.norm.swap_demand"
    again = as_json(system.kairos(*args, "--id", "invoke-test-1", "--json"))
    assert again["outcome"] == "duplicate" and again["emitted_ids"] == []
    human = system.kairos(*args)
    assert human.returncode == 0 and "emitted kairos.norm.swap_demand" in human.stdout


def test_invoke_refusal_prints_the_reason_and_exits_1(system: DevSystem) -> None:
    result = system.kairos("invoke", "reactor", "--type", "kairos.norm.swap_demand", "--data", "{}")
    assert result.returncode == 1
    assert "HTTP 400" in result.stdout and "invalid_event" in result.stdout


def test_invoke_in_process_runs_the_handler_without_a_server(system: DevSystem, tmp_path: Any) -> None:
    path = tmp_path / "quote.json"
    path.write_text(json.dumps(a_valid_raw_quote(system)))
    result = as_json(
        system.kairos(
            "invoke",
            "normalize-near-intents",
            "--in-process",
            "--type",
            "kairos.raw.near_intents.quote",
            "--data",
            f"@{path}",
            "--json",
        )
    )
    assert result["status"] == 204 and len(result["emitted"]) == 1


def test_dlq_list_show_and_replay_of_a_fixed_event_reaches_trade_results(system: DevSystem, tmp_path: Any) -> None:
    def letters() -> list[dict[str, Any]]:
        return list(as_json(system.kairos("dlq", "list", "--json")))

    wait_until(lambda: len(letters()) >= 1, timeout=60, message="a dead letter")
    letter = letters()[0]
    assert letter["ref"].startswith("dlq.normalize-near-intents:")
    assert letter["code"] == "400" and "-1.5" in letter["reason"]
    shown = json.loads(system.kairos("dlq", "show", letter["ref"]).stdout)
    assert shown["original_topic"] == "raw.near_intents.quote"
    assert shown["error"]["error"]["code"] == "invalid_event"
    data = json.loads(system.kairos("dlq", "show", letter["ref"], "--data-only").stdout)
    fix = tmp_path / "fix.json"
    fix.write_text(json.dumps(fixed_quote(data)))
    replay = system.kairos("dlq", "replay", letter["ref"], "--data", f"@{fix}")
    assert replay.returncode == 0, replay.stderr
    assert "-> raw.near_intents.quote" in replay.stdout

    def result_for_the_replayed_quote() -> bool:
        rows = system.sql("SELECT status FROM trade_results WHERE correlation_id = %s", letter["id"])
        return len(rows) == 1

    wait_until(result_for_the_replayed_quote, timeout=30, message="the replayed quote's trade result")


def test_dlq_replay_of_an_unknown_ref_says_so(system: DevSystem) -> None:
    result = system.kairos("dlq", "replay", "dlq.reactor:0:999999")
    assert result.returncode == 2 and "no dead letter" in result.stderr


def test_a_second_runner_on_the_same_state_folder_refuses_and_changes_nothing(system: DevSystem) -> None:
    second = system.kairos("dev", "--plain", timeout=60)
    assert second.returncode == 1
    assert "already runs from" in second.stderr
    assert system.info().phase == "running" and system.info().runner_pid == system.process.pid


def test_reset_without_a_terminal_asks_for_yes_and_keeps_the_folder(tmp_path: Any) -> None:
    state = tmp_path / "state"
    (state / "postgres").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "kairos.cli", "dev", "--reset", "--state-dir", str(state)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "add --yes" in result.stderr
    assert (state / "postgres").is_dir()


def test_a_killed_function_is_restarted_and_reported(system: DevSystem) -> None:
    before = system.info().processes["executor"]
    assert before.pid is not None
    os.kill(before.pid, signal.SIGKILL)

    def restarted() -> bool:
        now = system.info().processes["executor"]
        return now.restarts >= before.restarts + 1 and now.pid != before.pid

    wait_until(restarted, timeout=30, message="executor restarted")
    wait_until(lambda: "executor: restarted" in system.output(), timeout=10, message="the restart in the view")
    assert "executor: exited with code -9" in system.output()
    status = as_json(system.kairos("status", "--json"))
    wait_until(
        lambda: as_json(system.kairos("status", "--json"))["functions"]["executor"]["ready"],
        timeout=30,
        message="executor ready again",
    )
    assert status["functions"]["executor"]["restarts"] >= 1
    n = system.count_results()
    wait_until(lambda: system.count_results() > n, timeout=30, message="trade results after the restart")


def test_sigint_stops_everything_cleanly_and_leaves_no_process(system: DevSystem) -> None:
    system.remember_pids()
    assert len(system.seen_pids) >= 9
    assert system.stop() == 0
    out = system.output()
    assert "stopped cleanly" in out, out[-3000:]
    wait_until(lambda: not system.leftovers(), timeout=10, message="every process gone")
    assert system.info().phase == "stopped"
    assert not psutil.pid_exists(system.process.pid)
    after = system.kairos("status")
    assert after.returncode == 1 and "not running" in after.stdout
