"""The README's dashboard screenshot: a served API over seeded data, photographed by headless Chromium.

    .venv/bin/python -m bench.dashboard_screenshot docs/images/dashboard.png

Seeds 240 one-minute candles of BTC/USDT:USDT (a random walk, fixed seed), two trades and
their positions, the example SMA crossover strategy (running), its decisions on the
candles, and one backtest of it over those candles (kairos.backtest.runner.run).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import yaml
from kairos_testkit.browser import headless_chromium
from kairos_testkit.operator_api import PASSWORD, seed_trade, served_api
from kairos_testkit.servers import embedded_servers

ROOT = Path(__file__).resolve().parents[1]


def seed(url: str) -> None:
    from kairos.backtest import runner
    from kairos.backtest.config import BacktestRequest
    from kairos.marketdata import store as candles
    from kairos.strategies import language, store

    rng = random.Random(7)
    start = (datetime.now(UTC) - timedelta(minutes=241)).replace(second=0, microsecond=0)
    price = 64000.0  # the last close is the BTC mark
    with psycopg.connect(url) as conn:
        candles.ensure_partitions(conn, start, start + timedelta(minutes=240))
        for i in range(240):
            t = start + timedelta(minutes=i)
            o = price
            c = o * (1 + rng.gauss(0, 0.0015))
            h, low = max(o, c) * (1 + abs(rng.gauss(0, 0.0007))), min(o, c) * (1 - abs(rng.gauss(0, 0.0007)))
            conn.execute(
                "INSERT INTO candles (venue, symbol, timeframe, open_time, close_time, open, high, low, close, volume,"
                " origin) VALUES ('binanceusdm', 'BTC/USDT:USDT', '1m', %s, %s, %s, %s, %s, %s, %s, 'venue')",
                (t, t + timedelta(minutes=1), f"{o:.1f}", f"{h:.1f}", f"{low:.1f}", f"{c:.1f}", "12.5"),
            )
            price = c
        doc = yaml.safe_load((ROOT / "strategies" / "sma-crossover.yaml").read_text())
        conn.execute(
            "INSERT INTO exec_accounts (account, venue, mode) VALUES (%s, 'binanceusdm', 'shadow')", (doc["account"],)
        )
        spec = language.parse(doc)
        store.create(conn, spec, "screenshot")
        store.start(conn, spec.name, None, "screenshot")
        conn.commit()
        request = BacktestRequest(
            strategy_id=spec.name,
            symbols=("BTC/USDT:USDT",),
            start=start,
            end=start + timedelta(minutes=240),
            balance=Decimal("10000"),
        )
        outcome = runner.run(conn, request)
        conn.commit()
        for s in outcome.signals:
            conn.execute(
                "INSERT INTO strategy_decisions (strategy_id, version, symbol, candle_open_time, action, signal_id)"
                " VALUES (%s, 1, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (spec.name, s["symbol"], s["candle_open_time"], s["action"], f"sig-{s['candle_open_time']}"),
            )
    seed_trade(url, n=1, price="63850", mark=f"{price:.1f}")
    seed_trade(url, n=2, symbol="ETH/USDT:USDT", price="3410.5", mark="3398.2")


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else ROOT / "docs" / "images" / "dashboard.png")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with embedded_servers("shot-", broker=False) as servers, served_api(servers.url, servers.root / "api.log") as api:
        seed(servers.url)
        with headless_chromium(1440, 1500) as driver:
            driver.get(api.url + "/")
            driver.find_element(By.ID, "username").send_keys("trader")
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            driver.find_element(By.ID, "login-button").click()
            time.sleep(2)
            Select(driver.find_element(By.ID, "chart-symbol")).select_by_value("BTC/USDT:USDT")
            time.sleep(2)
            out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
