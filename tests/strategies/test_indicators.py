"""Indicator values against independent fixtures: hand-checked numbers and plain-Python
implementations of the textbook formulas (Wilder's RSI and ATR, EMA seeded with the SMA)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from kairos.strategies import indicators
from kairos.strategies.indicators import Candles
from kairos.strategies.language import parse

N = 300


def series(seed: int = 7, n: int = N) -> Candles:
    rnd = random.Random(seed)
    close, opens, highs, lows = [], [], [], []
    price = 100.0
    for _ in range(n):
        o = price
        price = max(1.0, price * (1 + rnd.gauss(0, 0.01)))
        opens.append(o)
        close.append(price)
        highs.append(max(o, price) * (1 + abs(rnd.gauss(0, 0.003))))
        lows.append(min(o, price) * (1 - abs(rnd.gauss(0, 0.003))))
    arr = np.array
    return Candles(np.arange(n, dtype=np.int64) * 60_000, arr(opens), arr(highs), arr(lows), arr(close),
                   np.ones(N))  # fmt: skip


def spec_with(ind: dict[str, object]) -> object:
    return parse({
        "name": "fixture", "account": "a", "universe": {"venue": "v", "symbols": ["S"], "timeframe": "1m"},
        "indicators": {"x": ind}, "rules": {"long": {"entry": {"gt": ["close", 0]}}},
        "sizing": {"type": "fixed_quantity", "quantity": "1"},
    })  # fmt: skip


def compute(ind: dict[str, object], c: Candles) -> dict[str, np.ndarray]:
    return indicators.compute(spec_with(ind), c)  # type: ignore[arg-type]


# --- independent implementations -------------------------------------------------------


def ref_sma(xs: list[float], p: int) -> list[float]:
    return [math.nan if i < p - 1 else sum(xs[i - p + 1 : i + 1]) / p for i in range(len(xs))]


def ref_ema(xs: list[float], p: int) -> list[float]:
    k, out, prev = 2 / (p + 1), [], math.nan
    for i, x in enumerate(xs):
        if i < p - 1:
            out.append(math.nan)
            continue
        prev = sum(xs[: p]) / p if i == p - 1 else x * k + prev * (1 - k)
        out.append(prev)
    return out


def ref_rsi(xs: list[float], p: int) -> list[float]:
    out = [math.nan] * len(xs)
    gains = [max(xs[i] - xs[i - 1], 0) for i in range(1, len(xs))]
    losses = [max(xs[i - 1] - xs[i], 0) for i in range(1, len(xs))]
    ag, al = sum(gains[:p]) / p, sum(losses[:p]) / p
    out[p] = 100 - 100 / (1 + ag / al)
    for i in range(p, len(gains)):
        ag = (ag * (p - 1) + gains[i]) / p
        al = (al * (p - 1) + losses[i]) / p
        out[i + 1] = 100 - 100 / (1 + ag / al)
    return out


def ref_atr(h: list[float], lo: list[float], c: list[float], p: int) -> list[float]:
    tr = [math.nan] + [max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(c))]
    out = [math.nan] * len(c)
    atr = sum(tr[1 : p + 1]) / p
    out[p] = atr
    for i in range(p + 1, len(c)):
        atr = (atr * (p - 1) + tr[i]) / p
        out[i] = atr
    return out


def close_enough(got: np.ndarray, want: list[float], tol: float = 1e-9) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if math.isnan(w):
            assert math.isnan(g), f"bar {i}: expected no value yet, got {g}"
        else:
            assert g == pytest.approx(w, rel=tol, abs=tol), f"bar {i}"


# --- fixtures -------------------------------------------------------------------------


def test_sma_of_a_small_hand_checked_series() -> None:
    xs = np.array([1.0, 2, 3, 4, 5, 6])
    c = Candles(np.arange(6, dtype=np.int64), xs, xs, xs, xs, xs)
    close_enough(compute({"type": "sma", "period": 3}, c)["x"], [math.nan, math.nan, 2, 3, 4, 5])
    close_enough(compute({"type": "highest", "period": 2, "source": "close"}, c)["x"], [math.nan, 2, 3, 4, 5, 6])
    close_enough(compute({"type": "roc", "period": 2}, c)["x"], [math.nan, math.nan, 200, 100, 200 / 3, 50])


def test_sma_ema_rsi_atr_equal_the_textbook_formulas() -> None:
    c = series()
    closes, highs, lows = list(c.close), list(c.high), list(c.low)
    close_enough(compute({"type": "sma", "period": 20}, c)["x"], ref_sma(closes, 20))
    close_enough(compute({"type": "ema", "period": 10}, c)["x"], ref_ema(closes, 10))
    close_enough(compute({"type": "rsi", "period": 14}, c)["x"], ref_rsi(closes, 14))
    close_enough(compute({"type": "atr", "period": 14}, c)["x"], ref_atr(highs, lows, closes, 14))


def test_bollinger_bands_are_the_sma_plus_minus_k_population_stddevs() -> None:
    c = series(3)
    out = compute({"type": "bollinger", "period": 20, "stddev": 2}, c)
    closes = list(c.close)
    mid = ref_sma(closes, 20)
    for i in range(19, N):
        window = closes[i - 19 : i + 1]
        sd = math.sqrt(sum((x - mid[i]) ** 2 for x in window) / 20)
        assert out["x.middle"][i] == pytest.approx(mid[i], rel=1e-9)
        assert out["x.upper"][i] == pytest.approx(mid[i] + 2 * sd, rel=1e-9)
        assert out["x.lower"][i] == pytest.approx(mid[i] - 2 * sd, rel=1e-9)


def test_macd_is_the_difference_of_two_emas_and_its_signal_an_ema_of_it() -> None:
    c = series(5)
    out = compute({"type": "macd", "fast": 12, "slow": 26, "signal": 9}, c)
    closes = list(c.close)
    # TA-Lib starts both EMAs at the slow one's first value; far from the start the seed is forgotten
    macd = [f - s for f, s in zip(ref_ema(closes, 12), ref_ema(closes, 26), strict=True)]
    first = next(i for i, v in enumerate(macd) if not math.isnan(v))
    signal = [math.nan] * first + ref_ema(macd[first:], 9)
    for i in range(200, N):
        assert out["x.macd"][i] == pytest.approx(macd[i], rel=1e-6, abs=1e-9)
        assert out["x.signal"][i] == pytest.approx(signal[i], rel=1e-6, abs=1e-9)
        assert out["x.hist"][i] == pytest.approx(macd[i] - signal[i], rel=1e-5, abs=1e-8)


def test_highest_and_lowest_read_highs_and_lows_by_default() -> None:
    c = series(9)
    hi, lo = compute({"type": "highest", "period": 10}, c)["x"], compute({"type": "lowest", "period": 10}, c)["x"]
    for i in range(9, N):
        assert hi[i] == max(c.high[i - 9 : i + 1]) and lo[i] == min(c.low[i - 9 : i + 1])


def test_the_engines_window_gives_the_full_historys_values() -> None:
    """Live evaluation reads window_bars candles; recursive indicators must have forgotten the start."""
    c = series(11, n=2000)
    for ind, names in (({"type": "macd", "fast": 12, "slow": 26, "signal": 9}, ("x.macd", "x.signal")),
                       ({"type": "rsi", "period": 14}, ("x",)), ({"type": "atr", "period": 14}, ("x",)),
                       ({"type": "ema", "period": 50}, ("x",))):  # fmt: skip
        spec = spec_with(ind)
        w = indicators.window_bars(spec)  # type: ignore[arg-type]
        assert w < 2000
        full = indicators.compute(spec, c)  # type: ignore[arg-type]
        tail = indicators.compute(spec, c.tail(w))  # type: ignore[arg-type]
        for name in names:  # within 1e-12 of the price scale (~100)
            assert abs(tail[name][-1] - full[name][-1]) < 1e-10, (ind, name)
