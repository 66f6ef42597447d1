"""The integration's small pure parts: configuration parsing and rejection classification."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kairos.errors import ConfigError
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.store import _rejection
from kairos.positions.model import Mode
from kairos.positions.plan import Fallback, Rejection


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


@pytest.mark.parametrize("env", [
    {"KAIROS_POSITIONS_PROTECTION": "{not json"},
    {"KAIROS_POSITIONS_PROTECTION": "[]"},
    {"KAIROS_POSITIONS_PROTECTION": '{"default": {"stop_loss": {}}}'},
    {"KAIROS_POSITIONS_FALLBACK": "pray"},
])
def test_bad_configuration_fails_naming_what_is_wrong(env):
    with pytest.raises(ConfigError, match=r"KAIROS_POSITIONS|positions configuration"):
        PositionsConfig.from_env(env)


@pytest.mark.parametrize(("reason", "expected"), [
    ('binanceusdm {"code":-2022,"msg":"ReduceOnly Order is rejected."}', Rejection.REDUCE_ONLY),
    ("ReduceOnly Order is rejected.", Rejection.REDUCE_ONLY),
    ('{"code":-2021,"msg":"Order would immediately trigger."}', Rejection.WOULD_TRIGGER),
    ("Invalid quantity", Rejection.INVALID_ORDER),
    (None, Rejection.OTHER),
])
def test_executor_rejection_reasons_map_to_the_plan_s_rejections(reason, expected):
    assert _rejection(reason) is expected
