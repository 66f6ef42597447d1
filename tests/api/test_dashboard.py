"""The dashboard in a real browser (Debian's headless Chromium through chromedriver) against a
served API on Postgres: log in, see a trade appear live, engage and release the kill switch.
Screenshots go to build/test-artifacts/dashboard/."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from kairos_testkit.operator_api import PASSWORD, ServedApi, seed_trade, served_api

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1440,1000",
]


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
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    strategy_id = running_strategy(api.database_url)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    wait = WebDriverWait(driver, 20)
    try:
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
    except Exception:
        driver.save_screenshot(str(ARTIFACTS / "failure.png"))
        raise
    finally:
        driver.quit()
