"""The demo reactor's rule and the paper venue (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from kairos.contracts.market import Asset, SwapDemand
from kairos.domain.paper import paper_fill
from kairos.domain.reactor import ReactorRule, decide
from kairos.errors import ConfigError

T0 = datetime(2026, 11, 23, tzinfo=UTC)
RULE = ReactorRule(pairs=frozenset({"NEAR/USDC"}), min_amount=Decimal("0.1"), max_amount=Decimal("100"))


def demand(amount="2", asset="NEAR", side="sell", pair="NEAR/USDC"):
    return SwapDemand(
        quote_id="q",
        asset_in=Asset(symbol="NEAR", venue_id="a"),
        asset_out=Asset(symbol="USDC", venue_id="b"),
        pair=pair,
        side=side,
        amount_kind="exact_in",
        amount=amount,
        amount_raw="1",
        amount_asset=asset,
        deadline=T0 + timedelta(minutes=1),
        min_deadline_ms=60000,
    )


def test_allowed_demand_becomes_a_command_on_the_other_side():
    d = decide(demand(), "ev-1", RULE)
    assert d.command is not None
    assert (d.command.side, d.command.quantity, d.command.symbol) == ("buy", Decimal("2"), "NEAR/USDC")


def test_same_demand_yields_the_same_command_id_and_a_new_rule_a_new_one():
    a = decide(demand(), "ev-1", RULE).command
    b = decide(demand(), "ev-1", RULE).command
    other = ReactorRule(pairs=RULE.pairs, min_amount=Decimal("0.2"), max_amount=RULE.max_amount)
    c = decide(demand(), "ev-1", other).command
    assert a and b and c and a.command_id == b.command_id != c.command_id


def test_quote_denominated_amount_is_sized_in_base_units():
    d = decide(demand(amount="32", asset="USDC", side="buy"), "ev", RULE)
    assert d.command is not None and d.command.quantity == Decimal("10")


@pytest.mark.parametrize(("dem", "why"), [(demand(pair="ETH/USDC"), "not allowed"), (demand(amount="500"), "outside")])
def test_demand_outside_the_rule_gives_no_command(dem, why):
    d = decide(dem, "ev", RULE)
    assert d.command is None and why in d.reason


def test_rule_without_pairs_is_a_config_error():
    with pytest.raises(ConfigError, match="KAIROS_REACTOR_PAIRS"):
        ReactorRule.from_env({})


def test_paper_fill_is_deterministic_with_adverse_slippage_and_fee():
    cmd = decide(demand(), "ev", RULE).command
    assert cmd is not None
    r1, r2 = paper_fill(cmd, T0), paper_fill(cmd, T0)
    assert r1 == r2 and r1.status == "filled"
    assert r1.average_price is not None and r1.average_price > Decimal("3.2")
    assert r1.fee > 0


def test_expired_command_is_not_filled():
    cmd = decide(demand(), "ev", RULE).command
    assert cmd is not None
    assert paper_fill(cmd, T0 + timedelta(hours=1)).status == "expired"
