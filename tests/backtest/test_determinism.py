"""Same inputs, same result hash: in two processes with different hash seeds and time zones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
import numpy as np
from kairos.backtest.config import BacktestRequest, FillModel
from kairos.backtest.runner import compute
from kairos.strategies.indicators import Candles
from kairos.strategies.language import parse_text

rng = np.random.default_rng(5)
n = 5000
close = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
open_ = np.concatenate(([100.0], close[:-1])) * (1 + rng.normal(0, 0.0005, n))
high = np.maximum(open_, close) * 1.002
low = np.minimum(open_, close) * 0.998
t = 1_767_225_600_000 + np.arange(n, dtype=np.int64) * 60_000
candles = Candles(t, open_, high, low, close, np.ones(n))
for name in ("sma-crossover", "rsi-mean-reversion", "bollinger-breakout"):
    spec = parse_text((Path(sys.argv[1]) / f"{name}.yaml").read_text())
    series = {s: candles for s in spec.universe.symbols}
    for fills in (FillModel(), FillModel(fill="close", sizing="all_equity", slippage_bps=Decimal(5))):
        req = BacktestRequest(strategy_id=spec.name, start=datetime(2026, 1, 1, tzinfo=UTC),
                              end=datetime(2026, 2, 1, tzinfo=UTC), balance=Decimal(10000), fills=fills)
        digest, result = compute(spec, series, req, spec.universe.timeframe, lambda *_: None)
        print(name, fills.fill, digest, len(result["trades"]))
"""


def _run(seed: str, tz: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": tz}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "strategies")], env=env, capture_output=True,
                         text=True, check=True, timeout=120)  # fmt: skip
    return out.stdout


def test_two_processes_with_different_hash_seeds_and_zones_give_identical_hashes() -> None:
    a = _run("1", "UTC")
    b = _run("4242", "Asia/Tokyo")
    assert a == b
    lines = a.splitlines()
    assert len(lines) == 6 and all(int(line.split()[-1]) > 0 for line in lines)
