"""The integration's small parts: configuration parsing, rejection classification, mark prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from kairos.errors import ConfigError
from kairos.portfolio import marks
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.store import _rejection
from kairos.positions.model import Mode
from kairos.positions.plan import Fallback, Rejection
from kairos.runtime.db import migrate


def test_protection_is_chosen_per_strategy_with_a_default_and_empty_means_unprotected():
    cfg = PositionsConfig.from_env({
        "KAIROS_POSITIONS_PROTECTION": '{"default": {"stop_loss": {"distance_pct": "2"}},'
                                       ' "strategies": {"scalp": {}}}',
        "KAIROS_POSITIONS_RULES": '{"symbols": {"ETH/USDT:USDT": {"tick_size": "0.01", "step_size": "0.001"}}}',
        "KAIROS_POSITIONS_FALLBACK": "alert_only",
    })
    assert cfg.open_defaults("trend", Mode.LIVE).protect is True
    assert cfg.open_defaults("scalp", Mode.SHADOW).protect is False
    assert cfg.open_defaults("scalp", Mode.SHADOW).mode is Mode.SHADOW
    assert cfg.rules_for("ETH/USDT:USDT").tick_size == Decimal("0.01")
    assert cfg.rules_for("BTC/USDT:USDT").tick_size == Decimal("0.1")
    assert cfg.plan.fallback is Fallback.ALERT_ONLY


def test_a_market_the_venue_lists_takes_its_own_tick_step_and_minimum_unless_configured():
    cfg = PositionsConfig.from_env({
        "KAIROS_POSITIONS_RULES": '{"default": {"tick_size": "0.1", "step_size": "0.001"},'
                                  ' "symbols": {"SOL/USDT:USDT": {"tick_size": "0.05", "step_size": "1"}}}',
    })
    eth = cfg.rules_for("ETH/USDT:USDT", "binanceusdm")  # listed: ETH's own grid, not the default's 0.1
    assert (eth.tick_size, eth.step_size, eth.min_quantity) == (Decimal("0.01"), Decimal("0.001"), Decimal("0.001"))
    assert cfg.rules_for("SOL/USDT:USDT", "binanceusdm").tick_size == Decimal("0.05")  # configured wins
    assert cfg.rules_for("XYZ/USDT:USDT", "binanceusdm").tick_size == Decimal("0.1")  # not listed: default
    assert cfg.rules_for("ETH/USDT:USDT", "no-such-venue").tick_size == Decimal("0.1")


@pytest.mark.parametrize("env", [
    {"KAIROS_POSITIONS_PROTECTION": "{not json"},
    {"KAIROS_POSITIONS_PROTECTION": "[]"},
    {"KAIROS_POSITIONS_PROTECTION": '{"default": {"stop_loss": {}}}'},
    {"KAIROS_POSITIONS_FALLBACK": "pray"},
    {"KAIROS_POSITIONS_MARK_MAX_AGE_S": "soon"},
    {"KAIROS_POSITIONS_MARK_MAX_AGE_S": "0"},
])
def test_bad_configuration_fails_naming_what_is_wrong(env):
    with pytest.raises(ConfigError, match=r"KAIROS_POSITIONS|positions configuration"):
        PositionsConfig.from_env(env)


@pytest.mark.parametrize(("reason", "expected"), [
    ('binanceusdm {"code":-2022,"msg":"ReduceOnly Order is rejected."}', Rejection.REDUCE_ONLY),
    ("ReduceOnly Order is rejected.", Rejection.REDUCE_ONLY),
    ("REDUCE_ONLY_PRECHECK: no position this stop closes on BTC/USDT:USDT", Rejection.REDUCE_ONLY),  # executor's
    ('{"code":-2021,"msg":"Order would immediately trigger."}', Rejection.WOULD_TRIGGER),
    ("Invalid quantity", Rejection.INVALID_ORDER),
    (None, Rejection.OTHER),
])
def test_executor_rejection_reasons_map_to_the_plan_s_rejections(reason, expected):
    assert _rejection(reason) is expected


def test_a_mark_is_read_only_while_younger_than_the_limit_and_never_replaced_by_an_older_one(database_url):
    migrate(database_url)
    now = datetime.now(UTC)
    with psycopg.connect(database_url, autocommit=True) as conn:
        marks.record(conn, "binanceusdm", {"BTC/USDT:USDT": Decimal("60000")}, now - timedelta(seconds=30))
        assert marks.latest(conn, "binanceusdm", "BTC/USDT:USDT", timedelta(seconds=90)) == Decimal("60000")
        assert marks.latest(conn, "binanceusdm", "BTC/USDT:USDT", timedelta(seconds=10)) is None  # too old
        assert marks.latest(conn, "binanceusdm", "ETH/USDT:USDT", timedelta(seconds=90)) is None
        marks.record(conn, "binanceusdm", {"BTC/USDT:USDT": Decimal("59000")}, now - timedelta(seconds=60))
        assert marks.latest(conn, "binanceusdm", "BTC/USDT:USDT", timedelta(seconds=90)) == Decimal("60000")
        marks.record(conn, "binanceusdm", {"BTC/USDT:USDT": Decimal("61000")}, now)
        assert marks.latest(conn, "binanceusdm", "BTC/USDT:USDT", timedelta(seconds=10)) == Decimal("61000")


def test_marks_are_asked_through_the_next_account_when_one_fails_and_none_is_not_guessed():
    want = marks.Wanted("binanceusdm", ("BTC/USDT:USDT",), ("broken", "fine"))
    asked: list[str] = []

    def ask(account, symbols):
        asked.append(account)
        if account == "broken":
            raise ConnectionError("venue down")
        return {s: Decimal("60000") for s in symbols}

    assert marks.read(want, ask, unanswered=(ConnectionError,)) == {"BTC/USDT:USDT": Decimal("60000")}
    assert asked == ["broken", "fine"]
    alone = marks.Wanted("binanceusdm", ("BTC/USDT:USDT",), ("broken",))
    assert marks.read(alone, ask, unanswered=(ConnectionError,)) == {}
    with pytest.raises(ConnectionError):  # a failure not named as "cannot ask now" is not swallowed
        marks.read(alone, ask, unanswered=(TimeoutError,))
