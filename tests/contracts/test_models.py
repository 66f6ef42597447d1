"""Payload models: money is decimal strings, never floats; unknown fields are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kairos.contracts.commands import ExecuteTrade
from pydantic import ValidationError

BASE = dict(command_id="c" * 16, account="a", venue="v", symbol="BTC/USDT", side="buy", strategy_id="s")


def test_decimal_string_is_accepted_and_serialised_as_string():
    cmd = ExecuteTrade(quantity="0.10", **BASE)
    assert cmd.quantity == Decimal("0.10")
    assert cmd.model_dump(mode="json")["quantity"] == "0.10"


def test_float_amount_is_refused():
    with pytest.raises(ValidationError, match="not floats"):
        ExecuteTrade(quantity=0.1, **BASE)


@pytest.mark.parametrize("bad", ["0", "-1", "NaN", "abc"])
def test_non_positive_or_non_numeric_quantity_is_refused(bad):
    with pytest.raises(ValidationError):
        ExecuteTrade(quantity=bad, **BASE)


def test_unknown_field_is_refused():
    with pytest.raises(ValidationError, match="extra"):
        ExecuteTrade(quantity="1", surprise=True, **BASE)  # type: ignore[call-arg]  # the point of the test


def test_limit_order_needs_a_price():
    with pytest.raises(ValidationError, match="limit_price"):
        ExecuteTrade(quantity="1", order_type="limit", **BASE)
