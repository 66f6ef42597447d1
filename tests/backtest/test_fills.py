"""Every fill-model rule on constructed candles (docs/BACKTEST.md, "Fill model")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.backtest.kit import HOUR, T0, bars, flat, run, threshold_strategy


def test_a_decision_fills_at_the_next_open_plus_slippage_with_fees_per_fill() -> None:
    c = bars([flat(99), flat(101), (102, 103, 101, 102), (104, 105, 97, 98), (96, 97, 95, 96)])
    r = run(threshold_strategy(), c, fee_rate=Decimal("0.001"), slippage_bps=Decimal(10))
    # crossed above at bar 1 -> bought at bar 2's open; crossed below at bar 3 -> sold at bar 4's open
    (t,) = r.trades
    assert (t.entry_time, t.exit_time) == (T0 + 2 * HOUR, T0 + 4 * HOUR)
    assert t.entry_price == pytest.approx(102 * 1.001) and t.exit_price == pytest.approx(96 * 0.999)
    fees = 102 * 1.001 * 0.001 + 96 * 0.999 * 0.001
    assert t.fees == pytest.approx(fees)
    assert t.pnl == pytest.approx(96 * 0.999 - 102 * 1.001 - fees)
    assert t.reason == "signal" and r.fees == pytest.approx(fees)
    assert [(s.open_time, s.action) for s in r.signals] == [(T0 + HOUR, "enter_long"), (T0 + 3 * HOUR, "exit_long")]


def test_the_close_convention_fills_at_the_deciding_candles_close() -> None:
    c = bars([flat(99), flat(101), (102, 103, 101, 102), (104, 105, 97, 98), (96, 97, 95, 96)])
    (t,) = run(threshold_strategy(), c, fill="close").trades
    assert (t.entry_time, t.entry_price, t.exit_time, t.exit_price) == (T0 + HOUR, 101, T0 + 3 * HOUR, 98)


def test_a_decision_on_the_last_candle_is_not_filled_and_an_open_position_closes_at_the_end() -> None:
    r = run(threshold_strategy(), bars([flat(99), flat(101)]))
    assert r.trades == [] and [s.action for s in r.signals] == ["enter_long"]
    r = run(threshold_strategy(), bars([flat(99), flat(101), flat(103), flat(107)]))
    (t,) = r.trades
    assert (t.entry_price, t.exit_price, t.reason) == (103, 107, "end_of_data")


PROTECT = {"stop_loss": {"distance_pct": "5"}, "take_profits": [{"distance_pct": "10", "fraction": "1"}]}


def test_stop_loss_touched_by_the_low_fills_at_the_stop() -> None:
    c = bars([flat(99), flat(101), (100, 101, 100, 100.5), (99.5, 99.6, 94, 96), flat(96)])
    (t,) = run(threshold_strategy(protection=PROTECT), c).trades
    assert (t.exit_time, t.exit_price, t.reason) == (T0 + 3 * HOUR, pytest.approx(95.0), "stop_loss")


def test_a_candle_opening_beyond_the_stop_fills_at_its_open_with_slippage() -> None:
    c = bars([flat(99), flat(101), (100, 101, 100, 100.5), (93, 94, 92, 93), flat(96)])
    (t,) = run(threshold_strategy(protection=PROTECT), c, slippage_bps=Decimal(100)).trades
    assert t.entry_price == pytest.approx(101.0) and t.exit_price == pytest.approx(93 * 0.99)
    assert t.reason == "stop_loss"


def test_take_profit_touched_by_the_high_fills_at_its_price() -> None:
    c = bars([flat(99), flat(101), (100, 101, 100, 100.5), (100, 111, 99, 105), flat(105)])
    (t,) = run(threshold_strategy(protection=PROTECT), c).trades
    assert (t.exit_price, t.reason) == (pytest.approx(110.0), "take_profit")


def test_a_candle_touching_both_stop_and_take_profit_fills_the_stop_first_unless_asked_otherwise() -> None:
    c = bars([flat(99), flat(101), (100, 101, 100, 100.5), (100, 111, 94, 100), flat(100)])
    spec = threshold_strategy(protection=PROTECT)
    (t,) = run(spec, c).trades
    assert (t.exit_price, t.reason) == (pytest.approx(95.0), "stop_loss")
    (t,) = run(spec, c, both_touched="tp_first").trades
    assert (t.exit_price, t.reason) == (pytest.approx(110.0), "take_profit")


def test_partial_take_profits_then_the_stop_for_the_rest() -> None:
    prot = {"stop_loss": {"distance_pct": "5"},
            "take_profits": [{"distance_pct": "2", "fraction": "0.5"}, {"distance_pct": "20", "fraction": "0.5"}]}
    c = bars([flat(99), flat(101), (100, 101, 100, 100.5), (100, 103, 99, 101), (101, 101, 90, 91), flat(91)])
    tp, sl = run(threshold_strategy(protection=prot), c).trades
    assert (tp.quantity, tp.exit_price, tp.reason) == (0.5, pytest.approx(102.0), "take_profit")
    assert (sl.quantity, sl.exit_price, sl.reason) == (0.5, pytest.approx(95.0), "stop_loss")


def test_trailing_stop_follows_the_best_price_of_earlier_candles() -> None:
    prot = {"trailing": {"callback_rate": "10"}}
    # entry 100 at bar 2's open; highs 120 (bar 3) then 130 (bar 4): the stop is 117 during bar 5
    c = bars([flat(99), flat(101), (100, 100, 99, 100), (100, 120, 99, 119), (119, 130, 118, 125),
              (125, 126, 115, 116), flat(116)])  # fmt: skip
    (t,) = run(threshold_strategy(protection=prot), c).trades
    assert (t.exit_time, t.exit_price, t.reason) == (T0 + 5 * HOUR, pytest.approx(117.0), "trailing_stop")


def test_trailing_stop_waits_for_its_activation_price() -> None:
    prot = {"trailing": {"callback_rate": "10", "activation_price": "125"}}
    # 10 % below 120 would be hit at bar 4 (low 107) but the trail is not active until a high reaches 125
    c = bars([flat(99), flat(101), (100, 100, 99, 100), (100, 120, 99, 110), (110, 126, 107, 125),
              (125, 130, 118, 120), (120, 121, 110, 112), flat(112)])  # fmt: skip
    (t,) = run(threshold_strategy(protection=prot), c).trades
    # active from bar 5 with best 126 (bar 4's high); bar 5's high 130 moves it to 117 for bar 6
    assert (t.exit_time, t.exit_price, t.reason) == (T0 + 6 * HOUR, pytest.approx(117.0), "trailing_stop")


def test_trailing_stop_past_its_activation_price_at_entry_trails_at_once() -> None:
    prot = {"trailing": {"callback_rate": "10", "activation_price": "95"}}
    # entry 100 at bar 2's open, already beyond 95: the stop is 90 during bar 2 itself (low 89)
    c = bars([flat(99), flat(101), (100, 100, 89, 95), flat(95)])
    (t,) = run(threshold_strategy(protection=prot), c).trades
    assert (t.exit_time, t.exit_price, t.reason) == (T0 + 2 * HOUR, pytest.approx(90.0), "trailing_stop")


def test_a_short_stop_is_touched_by_the_high() -> None:
    c = bars([flat(101), flat(99), (100, 100.5, 99, 99.5), (99.5, 106, 99, 104), flat(104)])
    (t,) = run(threshold_strategy(short=True, protection=PROTECT), c).trades
    assert (t.side, t.exit_price, t.reason) == ("short", pytest.approx(105.0), "stop_loss")
    assert t.pnl == pytest.approx(-5.0)


def test_all_equity_sizing_invests_the_balance_net_of_costs() -> None:
    c = bars([flat(99), flat(101), flat(100), flat(100)])
    (t,) = run(threshold_strategy(), c, sizing="all_equity", fee_rate=Decimal("0.001")).trades
    assert t.quantity == pytest.approx(1000 / (101 * 1.001), abs=1e-6)


def test_funding_is_charged_on_open_notional_per_8_hours() -> None:
    c = bars([flat(99), flat(101)] + [flat(100)] * 9)
    r = run(threshold_strategy(), c, funding_rate_8h=Decimal("0.0008"))
    # one unit at 100 held at the close of bars 2..9 (bar 10's close ends the test): 8 x 100 x 0.0008 / 8
    assert r.funding[-1] == pytest.approx(8 * 100 * 0.0008 / 8)
    assert r.equity_change()[-1] == pytest.approx(0 - 0.08)
