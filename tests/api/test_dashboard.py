"""The dashboard in a real browser (Debian's headless Chromium through chromedriver) against a
served API on Postgres: log in, see a trade appear live, engage and release the kill switch;
replay a dead letter from a real broker, set a risk limit, validate a bad strategy, and see a
viewer's write refused. Screenshots go to build/test-artifacts/dashboard/."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kairos_testkit.browser import CHROMIUM, headless_chromium
from kairos_testkit.operator_api import PASSWORD, ServedApi, seed_trade, served_api

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "dashboard"


def running_strategy(url: str) -> str:
    """The example SMA crossover strategy, created and started through its library (as the CLI does)."""
    import yaml
    from kairos.strategies import language, store

    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "strategies" / "sma-crossover.yaml").read_text())
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO exec_accounts (account, venue, mode) VALUES (%s, 'binanceusdm', 'shadow')", (doc["account"],)
        )
        spec = language.parse(doc)
        store.create(conn, spec, "test")
        store.start(conn, spec.name, None, "test")
    return str(spec.name)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[ServedApi]:
    with served_api(database_url, tmp_path / "api.log") as served:
        yield served


@contextmanager
def chromium(failure_shot: str = "failure.png") -> Iterator[Any]:
    """The headless browser, with a screenshot of the page on failure."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with headless_chromium() as driver:
        try:
            yield driver
        except Exception:
            driver.save_screenshot(str(ARTIFACTS / failure_shot))
            raise


def test_a_fill_reaches_the_stream(api: ServedApi) -> None:
    seen: list[dict[str, object]] = []
    stop = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{api.url}/api/v1/stream", headers=api.login("viewer"), timeout=30) as answer:
            event = None
            for line in answer.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "fills":
                    seen.extend(json.loads(line[6:])["data"])
                if stop.is_set() or seen:
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(1.0)  # the first (empty) snapshot is out
    seed_trade(api.database_url)
    thread.join(timeout=15)
    stop.set()
    assert [f["price"] for f in seen] == ["100"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium missing: scripts/ensure-test-tools.sh chromium")
def test_dashboard_in_chromium_login_live_trade_kill_switch(api: ServedApi) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    strategy_id = running_strategy(api.database_url)
    with chromium() as driver:
        wait = WebDriverWait(driver, 20)
        driver.get(api.url + "/")
        driver.find_element(By.ID, "username").send_keys("trader")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login-button").click()
        wait.until(seen.text_to_be_present_in_element((By.ID, "live"), "live"))
        wait.until(seen.text_to_be_present_in_element((By.ID, "kill-state"), "trading allowed"))
        driver.save_screenshot(str(ARTIFACTS / "1-logged-in.png"))

        seed_trade(api.database_url)  # a fill, an open position, its mark
        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#positions tr[data-position='pos-1']")))
        row = driver.find_element(By.CSS_SELECTOR, "#positions tr[data-position='pos-1']").text
        assert "BTC/USDT:USDT" in row and "unprotected" in row and "20" in row
        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#fills tr[data-fill]")))
        wait.until(seen.text_to_be_present_in_element((By.ID, "pnl-unrealised"), "20"))
        driver.save_screenshot(str(ARTIFACTS / "2-trade-appeared.png"))

        stop = (By.CSS_SELECTOR, f"#strategies tr[data-strategy='{strategy_id}'] button[data-action='stop']")
        wait.until(seen.element_to_be_clickable(stop)).click()
        start = (By.CSS_SELECTOR, f"#strategies tr[data-strategy='{strategy_id}'] button[data-action='start']")
        wait.until(seen.presence_of_element_located(start))
        with psycopg.connect(api.database_url) as conn:
            assert conn.execute("SELECT state, state_changed_by FROM strategies").fetchone() == (
                "STOPPED",
                "api:trader",
            )

        driver.find_element(By.ID, "kill-engage").click()
        wait.until(seen.text_to_be_present_in_element((By.ID, "kill-state"), "KILL SWITCH ENGAGED"))
        with psycopg.connect(api.database_url) as conn:
            row_ = conn.execute("SELECT engaged, actor FROM risk_kill_switches WHERE scope_kind = 'global'").fetchone()
        assert row_ == (True, "api:trader")
        driver.save_screenshot(str(ARTIFACTS / "3-kill-switch-engaged.png"))
        driver.find_element(By.ID, "kill-release").click()
        wait.until(seen.text_to_be_present_in_element((By.ID, "kill-state"), "trading allowed"))
        with psycopg.connect(api.database_url) as conn:
            trail = conn.execute("SELECT action, outcome FROM api_audit ORDER BY id").fetchall()
        assert trail == [("strategy.stop", "ok"), ("kill_switch.engage", "ok"), ("kill_switch.release", "ok")]
        driver.save_screenshot(str(ARTIFACTS / "4-kill-switch-released.png"))


def _dead_letter(bootstrap: str) -> str:
    """One quote event dead-lettered by normalize-near-intents (HTTP 422), on the real broker."""
    from kairos.bus.kafka import make_producer, send_records
    from kairos.contracts.codec import cloudevent_to_kafka, to_cloudevent
    from kairos_testkit.events import quote_event
    from kairos_testkit.topics import create_topics

    create_topics(bootstrap)
    event = quote_event("dash-dlq-1")
    ce = to_cloudevent(event)
    error = base64.b64encode(b'{"error": {"code": "invalid_event", "reason": "amount is not a number"}}').decode()
    ce = type(ce)(
        attributes={**ce.get_attributes(), "knativeerrorcode": "422", "knativeerrordata": error}, data=ce.get_data()
    )
    producer = make_producer(bootstrap, client_id="test-dashboard-dlq")
    try:
        send_records(producer, [("dlq.normalize-near-intents", cloudevent_to_kafka(ce))])
    finally:
        producer.close(timeout=5)
    return str(event.meta.id)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium missing: scripts/ensure-test-tools.sh chromium")
def test_dashboard_in_chromium_dead_letters_risk_strategies_roles(
    database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import Select, WebDriverWait

    event_id = _dead_letter(kafka_bootstrap)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAIROS_KAFKA_PROFILE": "tansu"}
    with served_api(database_url, tmp_path / "api.log", **env) as api, chromium("failure-operator.png") as driver:
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "INSERT INTO risk_decisions (intent_id, account, strategy_id, symbol, outcome, reason_code, details)"
                " VALUES ('intent-1', 'acct', 's1', 'BTC/USDT:USDT', 'rejected', 'MAX_OPEN_POSITIONS',"
                ' \'{"message": "2 positions open, limit 2"}\')'
            )
        wait = WebDriverWait(driver, 20)

        def log_in(name: str) -> None:
            driver.get(api.url + "/")
            driver.execute_script("sessionStorage.clear()")
            driver.get(api.url + "/")
            driver.find_element(By.ID, "username").send_keys(name)
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            driver.find_element(By.ID, "login-button").click()
            wait.until(seen.text_to_be_present_in_element((By.ID, "whoami"), f"{name} ({name})"))

        log_in("admin")
        # dead letters: listed with topic, code and reason; shown; replayed; marked as replayed
        letter = (By.CSS_SELECTOR, "#dead-letters tr[data-ref^='dlq.normalize-near-intents:']")
        wait.until(seen.presence_of_element_located(letter))
        row = driver.find_element(*letter).text
        assert "normalize-near-intents" in row and "422" in row and "amount is not a number" in row, row
        ref = driver.find_element(*letter).get_attribute("data-ref")
        driver.find_element(*letter).find_element(By.TAG_NAME, "button").click()
        wait.until(seen.text_to_be_present_in_element((By.ID, "dlq-original"), "raw.near_intents.quote"))
        assert event_id in driver.find_element(By.ID, "dlq-attributes").text
        driver.find_element(By.ID, "dlq-replay").click()
        wait.until(seen.text_to_be_present_in_element(letter, "replayed"))
        with psycopg.connect(api.database_url) as conn:
            assert conn.execute("SELECT topic, event_id FROM outbox").fetchall() == [
                ("raw.near_intents.quote", event_id)
            ]
            assert conn.execute("SELECT action, target, outcome FROM api_audit").fetchall() == [
                ("dead_letter.replay", ref, "ok")
            ]
        driver.execute_script("document.getElementById('dlq').scrollIntoView()")
        driver.save_screenshot(str(ARTIFACTS / "5-dead-letter-replayed.png"))

        # risk: a rejection with its reason; a limit set from the form, then listed
        wait.until(seen.text_to_be_present_in_element((By.ID, "decisions"), "MAX_OPEN_POSITIONS"))
        assert "2 positions open, limit 2" in driver.find_element(By.ID, "decisions").text
        Select(driver.find_element(By.ID, "limit-scope")).select_by_visible_text("account")
        for field, text in (
            ("limit-scope-id", "acct"),
            ("limit-name", "max_open_positions"),
            ("limit-value", "3"),
            ("limit-reason", "three at most"),
        ):
            driver.find_element(By.ID, field).clear()
            driver.find_element(By.ID, field).send_keys(text)
        driver.find_element(By.ID, "limit-set").click()
        limit = (By.CSS_SELECTOR, "#limits tr[data-limit='account:acct:max_open_positions']")
        wait.until(seen.presence_of_element_located(limit))
        assert "three at most" in driver.find_element(*limit).text and "api:admin" in driver.find_element(*limit).text
        # a strategy kill switch, engaged from the risk panel
        Select(driver.find_element(By.ID, "switch-scope")).select_by_visible_text("strategy")
        driver.find_element(By.ID, "switch-scope-id").clear()
        driver.find_element(By.ID, "switch-scope-id").send_keys("sma-crossover")
        driver.find_element(By.ID, "switch-reason").send_keys("paused by hand")
        driver.find_element(By.ID, "switch-engage").click()
        wait.until(
            seen.presence_of_element_located((By.CSS_SELECTOR, "#switches tr[data-switch='strategy:sma-crossover']"))
        )
        with psycopg.connect(api.database_url) as conn:
            assert conn.execute(
                "SELECT engaged, actor FROM risk_kill_switches WHERE scope_kind = 'strategy'"
            ).fetchone() == (True, "api:admin")

        # strategies: a bad document's problems with their field path; a good one becomes version 1
        driver.find_element(By.CSS_SELECTOR, "#strategy-editor summary").click()
        good = (Path(__file__).resolve().parents[2] / "strategies" / "sma-crossover.yaml").read_text()
        bad = good.replace("type: fixed_notional", "type: moon", 1)
        assert bad != good
        editor = driver.find_element(By.ID, "strategy-doc")
        editor.send_keys(bad)
        driver.find_element(By.ID, "strategy-validate").click()
        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#strategy-problems tbody tr")))
        problems = driver.find_element(By.ID, "strategy-problems").text
        assert "sizing" in problems and "not valid" in driver.find_element(By.ID, "strategy-result").text, problems
        driver.execute_script("document.getElementById('strategies-card').scrollIntoView()")
        driver.save_screenshot(str(ARTIFACTS / "6-risk-and-bad-strategy.png"))
        driver.execute_script("document.getElementById('strategy-doc').value = arguments[0]", good)
        driver.find_element(By.ID, "strategy-create").click()
        wait.until(seen.text_to_be_present_in_element((By.ID, "strategy-result"), "version 1"))
        with psycopg.connect(api.database_url) as conn:
            assert conn.execute("SELECT count(*) FROM strategy_versions").fetchone() == (1,)

        # a viewer sees the panels but a write is refused with 403, and says so
        log_in("viewer")
        wait.until(seen.presence_of_element_located(limit))
        driver.find_element(By.ID, "limit-name").send_keys("max_open_positions")
        driver.find_element(By.ID, "limit-value").send_keys("9")
        driver.find_element(By.ID, "limit-reason").send_keys("not allowed")
        driver.find_element(By.ID, "limit-set").click()
        wait.until(seen.text_to_be_present_in_element((By.ID, "message"), "403"))
        assert "viewer" in driver.find_element(By.ID, "message").text
        driver.execute_script("document.getElementById('message').scrollIntoView()")
        driver.save_screenshot(str(ARTIFACTS / "7-viewer-refused.png"))
        with psycopg.connect(api.database_url) as conn:
            assert conn.execute("SELECT value FROM risk_limits WHERE limit_name = 'max_open_positions'").fetchall() == [
                (3,)
            ]
