"""The command line: subscriptions, backfill (equal to the venue, resumable after a kill,
rate-limit aware), import (bad files refused with line numbers), gaps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kairos.cli import main
from kairos.marketdata.timeframes import from_ms
from kairos_testkit.venue_sim import VenueSimHandle

from tests.marketdata.conftest import START_MS, sim_closed, stored

BTC = "BTC/USDT:USDT"
MIN = 60_000
DAY = 86_400_000


@pytest.fixture
def cli_env(db: str, sim: VenueSimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {"DATABASE_URL": db, "KAIROS_VENUE_BASE_URL": sim.base_url}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    yield env


def kairos(*args: str) -> int:
    return main(list(args))


def test_subscribe_list_unsubscribe(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert kairos("market", "subscribe", "--symbol", BTC, "--timeframe", "1m,1h", "--since", "2026-01-01") == 0
    assert kairos("market", "subscribe", "--symbol", "ETHUSDT", "--timeframe", "5m") == 0
    assert kairos("market", "subscribe", "--symbol", BTC, "--timeframe", "1m") == 0
    out = capsys.readouterr().out
    assert "BTC/USDT:USDT 1m: subscribed" in out and "ETH/USDT:USDT 5m: subscribed" in out
    assert "BTC/USDT:USDT 1m: already subscribed" in out
    assert kairos("market", "list") == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in listed] == [[BTC, "1h"], [BTC, "1m"], ["ETH/USDT:USDT", "5m"]]
    assert kairos("market", "unsubscribe", "--symbol", BTC) == 0
    assert "2 subscription(s) removed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        kairos("market", "subscribe", "--symbol", BTC, "--timeframe", "7m")


def test_backfill_stores_exactly_the_venues_history_and_again_adds_nothing(
    cli_env: dict[str, str], db: str, sim: VenueSimHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    since = START_MS - 2 * DAY
    assert (
        kairos("candles", "backfill", "--symbol", BTC, "--timeframe", "1m", "--since", from_ms(since).isoformat()) == 0
    )
    assert "2880 candles stored of 2880 fetched" in capsys.readouterr().out
    expected = sim_closed(sim, "BTCUSDT", "1m", since)[:1500] + sim_closed(sim, "BTCUSDT", "1m", since + 1500 * MIN)
    got = stored(db, BTC, "1m")
    assert len(got) == 2880 and [r[:6] for r in got] == [(r[0], *r[1:6]) for r in expected]
    assert (
        kairos("candles", "backfill", "--symbol", BTC, "--timeframe", "1m", "--since", from_ms(since).isoformat()) == 0
    )
    assert "0 candles stored" in capsys.readouterr().out
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*), max(revision) FROM candles").fetchone() == (2880, 1)
        assert conn.execute("SELECT origin FROM candles GROUP BY origin").fetchall() == [("backfill",)]


@pytest.mark.slow
def test_backfill_resumes_after_a_kill(cli_env: dict[str, str], db: str, sim: VenueSimHandle, tmp_path: Path) -> None:
    sim.control.set_faults([{"kind": "latency", "endpoint": "GET /fapi/v1/klines", "latency_ms": 250}])
    since = from_ms(START_MS - 20 * DAY).isoformat()
    argv = [sys.executable, "-m", "kairos.cli", "candles", "backfill", "--symbol", BTC, "--timeframe", "1m",
            "--since", since]  # fmt: skip
    proc = subprocess.Popen(argv, env={**os.environ, **cli_env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    done_before_kill = 0
    while time.monotonic() < deadline:
        with psycopg.connect(db) as conn:
            row = conn.execute("SELECT coalesce(sum(stored), 0) FROM candle_backfills").fetchone()
        done_before_kill = int(row[0]) if row else 0
        if done_before_kill >= 3000:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert 3000 <= done_before_kill < 28_800, "killed mid-way"
    sim.control.clear_faults()
    proc2 = subprocess.run(argv, env={**os.environ, **cli_env}, capture_output=True, text=True, timeout=120)
    assert proc2.returncode == 0, proc2.stderr
    assert "resumed at" in proc2.stdout
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT open_time) FROM candles").fetchone() == (28_800, 28_800)
        assert conn.execute("SELECT finished_at IS NOT NULL FROM candle_backfills").fetchone() == (True,)


def test_backfill_backs_off_when_rate_limited(cli_env: dict[str, str], db: str, sim: VenueSimHandle) -> None:
    sim.control.set_faults([{"kind": "rate_limit", "endpoint": "GET /fapi/v1/klines", "count": 2, "retry_after_s": 1}])
    since = from_ms(START_MS - 60 * MIN).isoformat()
    assert kairos("candles", "backfill", "--symbol", BTC, "--timeframe", "1m", "--since", since) == 0
    assert len(stored(db, BTC, "1m")) == 60
    assert [r["status"] for r in sim.control.audit() if r["path"] == "/fapi/v1/klines"][:3] == [429, 429, 200]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_import_refuses_a_bad_file_with_line_numbers_and_stores_nothing(
    cli_env: dict[str, str], db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "bad.csv", "\n".join([
        "open_time,open,high,low,close,volume",
        "2025-06-01T00:00:00Z,100,110,90,105,1",
        "2025-06-01T00:01:00Z,100,80,90,105,1",
        "2025-06-01T00:02:30Z,100,110,90,105,1",
        "2025-06-01T00:03:00Z,abc,110,90,105,1",
        "2025-06-01T00:04:00Z,100,110,90,105,-2",
        "2025-06-01T00:00:00Z,101,110,90,105,1",
        "2025-06-01T00:05:00,100,110,90,105,1",
    ]) + "\n")  # fmt: skip
    assert kairos("candles", "import", str(bad), "--symbol", BTC, "--timeframe", "1m") == 1
    err = capsys.readouterr().err
    assert "6 problem(s)" in err and "nothing imported" in err
    needles = ("line 3: high 80 is below low 90", "line 4: open time", "line 5: open 'abc' is not a number",
               "line 6: negative volume -2", "line 7: ", "repeats line 2", "line 8: time", "no time zone")  # fmt: skip
    for needle in needles:
        assert needle in err, needle
    missing = write(tmp_path / "missing.csv", "open_time,open,high,close\n1,2,3,4\n")
    assert kairos("candles", "import", str(missing), "--symbol", BTC, "--timeframe", "1m") == 1
    assert "line 1: missing column(s) low, volume" in capsys.readouterr().err
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM candles").fetchone() == (0,)


def test_import_stores_a_good_file_once(
    cli_env: dict[str, str], db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ["symbol,timeframe,open_time,open,high,low,close,volume"]
    t0 = START_MS - 10 * DAY
    rows += [f"{BTC},1h,{t0 + i * 3_600_000},100.5,101,99,100,{i}" for i in range(48)]
    good = write(tmp_path / "good.csv", "\n".join(rows) + "\n")
    assert kairos("candles", "import", str(good)) == 0
    assert "48 rows read, 48 candles stored" in capsys.readouterr().out
    assert kairos("candles", "import", str(good)) == 0
    assert "48 rows read, 0 candles stored" in capsys.readouterr().out
    got = stored(db, BTC, "1h")
    assert len(got) == 48 and got[0][1:5] == (Decimal("100.5"), Decimal("101"), Decimal("99"), Decimal("100"))


def test_gaps_lists_the_holes_of_a_subscription(
    cli_env: dict[str, str], db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = START_MS - DAY
    rows = ["open_time,open,high,low,close,volume"]
    rows += [f"{t0 + i * MIN},1,1,1,1,1" for i in range(10) if i not in (3, 4, 7)]
    kairos("candles", "import", str(write(tmp_path / "holes.csv", "\n".join(rows) + "\n")), "--symbol", BTC,
           "--timeframe", "1m")  # fmt: skip
    kairos("market", "subscribe", "--symbol", BTC, "--timeframe", "1m", "--since", from_ms(t0).isoformat())
    capsys.readouterr()
    assert kairos("candles", "gaps") == 1
    lines: Any = capsys.readouterr().out.splitlines()
    assert lines == [
        f"binanceusdm {BTC} 1m: {from_ms(t0 + 3 * MIN).isoformat()} .. {from_ms(t0 + 5 * MIN).isoformat()}",
        f"binanceusdm {BTC} 1m: {from_ms(t0 + 7 * MIN).isoformat()} .. {from_ms(t0 + 8 * MIN).isoformat()}",
    ]


def test_parquet_without_pyarrow_is_refused_with_what_to_do(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        import pyarrow  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyarrow is installed: Parquet files are read")
    path = write(tmp_path / "c.parquet", "PAR1")
    assert kairos("candles", "import", str(path), "--symbol", BTC, "--timeframe", "1m") == 1
    assert "reading Parquet needs pyarrow: pip install pyarrow" in capsys.readouterr().err
