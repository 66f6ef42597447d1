"""What a user does: import a candle file, create each example strategy, backtest it with the CLI,
open the HTML report; list, show and compare the runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backtest.conftest import BTC, START, walk

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("sma-crossover", "rsi-mean-reversion", "bollinger-breakout")


def kairos(db: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db}
    return subprocess.run([sys.executable, "-m", "kairos.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.mark.slow
def test_each_example_strategy_backtests_on_an_imported_file(db: str, tmp_path: Path) -> None:
    t0 = int(START.timestamp() * 1000)
    lines = ["open_time,open,high,low,close,volume"]
    lines += [f"{t0 + i * 60_000},{o},{h},{lo},{c},1" for i, (o, h, lo, c) in enumerate(walk(3000, 9, 30000.0))]
    csv = tmp_path / "btc.csv"
    csv.write_text("\n".join(lines) + "\n")
    imported = kairos(db, "candles", "import", str(csv), "--venue", "binanceusdm", "--symbol", BTC,
                      "--timeframe", "1m", cwd=tmp_path)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    files = [str(ROOT / "strategies" / f"{name}.yaml") for name in EXAMPLES]
    created = kairos(db, "strategy", "create", *files, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    ids = []
    for name in EXAMPLES:
        out = kairos(db, "backtest", "run", "--strategy", name, "--symbols", BTC, "--from", "2026-01-01",
                     "--to", "2026-01-03", "--balance", "10000", "--fees", "0.0005", "--slippage-bps", "1",
                     cwd=tmp_path)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "total return" in out.stdout and "max drawdown" in out.stdout
        run_id = out.stdout.split()[1].rstrip(":")
        page = (tmp_path / f"backtest-{run_id}.html").read_text()
        assert "data:image/png;base64," in page and "http" not in page.replace("http-equiv", "")
        ids.append(run_id)
    listed = kairos(db, "backtest", "list", cwd=tmp_path)
    assert all(i in listed.stdout for i in ids)
    shown = kairos(db, "backtest", "show", ids[0], "--trades", "3", cwd=tmp_path)
    assert shown.returncode == 0 and "data version" in shown.stdout
    compared = kairos(db, "backtest", "compare", *ids, cwd=tmp_path)
    assert compared.returncode == 0 and all(i in compared.stdout for i in ids)
    bad = kairos(db, "backtest", "run", "--strategy", "nope", "--from", "2026-01-01", "--to", "2026-01-02",
                 cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 1 and "no strategy 'nope'" in bad.stderr
    empty = kairos(db, "backtest", "run", "--strategy", "sma-crossover", "--from", "2026-01-02", "--to",
                   "2026-01-01", cwd=tmp_path)  # fmt: skip
    assert empty.returncode == 2 and "empty range" in empty.stderr
