"""The strategy document: what validates, and errors that name the path, the expectation, the value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kairos.strategies.language import Problem, StrategyInvalid, canonical, parse, parse_text

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies"


def doc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "t-sma",
        "account": "acc",
        "universe": {"venue": "binanceusdm", "symbols": ["BTC/USDT:USDT"], "timeframe": "1m"},
        "indicators": {"fast": {"type": "sma", "period": 3}, "slow": {"type": "sma", "period": 5}},
        "rules": {"long": {"entry": {"crosses_above": ["fast", "slow"]}, "exit": {"crosses_below": ["fast", "slow"]}}},
        "sizing": {"type": "fixed_quantity", "quantity": "0.01"},
    }
    base.update(changes)
    return base


def problems(data: Any) -> list[Problem]:
    with pytest.raises(StrategyInvalid) as err:
        parse(data)
    return err.value.problems


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_strategy_validates(path: Path) -> None:
    spec = parse_text(path.read_text())
    assert spec.name == path.stem
    assert parse(canonical(spec)) == spec  # the stored form parses back to the same strategy


def test_three_examples_ship() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.yaml")} == {"sma-crossover", "rsi-mean-reversion", "bollinger-breakout"}


def test_a_json_document_is_accepted_too() -> None:
    import json

    assert parse_text(json.dumps(doc())).name == "t-sma"


def test_an_unknown_indicator_type_names_the_path_and_the_choices() -> None:
    found = problems(doc(indicators={"fast": {"type": "smaa", "period": 3}, "slow": {"type": "sma", "period": 5}}))
    assert len(found) == 1
    assert found[0].path == "indicators.fast"
    assert "'sma'" in found[0].expected and "'bollinger'" in found[0].expected
    assert found[0].found == "'smaa'"


def test_a_period_out_of_range_names_the_field() -> None:
    found = problems(doc(indicators={"fast": {"type": "sma", "period": 1}, "slow": {"type": "sma", "period": 5}}))
    assert [(p.path, p.found) for p in found] == [("indicators.fast.period", "1")]
    assert "greater than or equal to 2" in found[0].expected


def test_an_undefined_operand_lists_the_names_it_could_be() -> None:
    rules = {"long": {"entry": {"all": [{"gt": ["close", 1]}, {"crosses_above": ["fast", "slo"]}]}}}
    found = problems(doc(rules=rules))
    assert [(p.path, p.found) for p in found] == [("rules.long.entry.all[1].crosses_above[1]", "'slo'")]
    assert "slow" in found[0].expected and "close" in found[0].expected


def test_an_unknown_condition_operator_is_refused_where_it_is() -> None:
    found = problems(doc(rules={"long": {"entry": {"above": ["fast", "slow"]}}}))
    assert found[0].path == "rules.long.entry"
    assert "crosses_above" in found[0].expected and found[0].found == '{"above": ["fast", "slow"]}'


def test_a_comparison_needs_two_operands() -> None:
    found = problems(doc(rules={"long": {"entry": {"gt": ["fast", "slow", 3]}}}))
    assert [(p.path, p.expected) for p in found] == [("rules.long.entry.gt", "two operands")]


def test_missing_and_unknown_fields() -> None:
    data = doc(colour="red")
    del data["account"]
    found = {(p.path, p.expected, p.found) for p in problems(data)}
    assert ("account", "Field required", "nothing") in found
    assert ("colour", "no such field", "'red'") in found


def test_sizing_needs_what_it_sizes_from() -> None:
    found = problems(doc(sizing={"type": "risk_per_trade", "risk_percent": "1", "atr": "fast", "atr_multiple": "2"}))
    paths = {p.path: p for p in found}
    assert set(paths) == {"equity", "sizing.atr"}
    assert "atr indicator" in paths["sizing.atr"].expected and paths["sizing.atr"].found == "'fast'"
    assert problems(doc(sizing={"type": "percent_of_equity", "percent": "5"}))[0].path == "equity"


def test_amounts_must_be_positive_decimals() -> None:
    found = problems(doc(sizing={"type": "fixed_quantity", "quantity": "-1"}))
    assert [p.path for p in found] == ["sizing.quantity"]


def test_rules_for_neither_side_and_macd_periods() -> None:
    found = problems(doc(rules={}, indicators={"m": {"type": "macd", "fast": 26, "slow": 12}}))
    assert {p.path for p in found} == {"rules", "indicators.m.slow"}


def test_a_yaml_syntax_error_is_a_problem_of_the_document() -> None:
    with pytest.raises(StrategyInvalid) as err:
        parse_text("name: [unclosed")
    assert err.value.problems[0].path == "" and "syntax error" in err.value.problems[0].found


def test_a_problem_reads_as_path_expected_found() -> None:
    assert str(Problem("sizing.quantity", "a positive decimal", "'-1'")) == (
        "sizing.quantity: expected a positive decimal; found '-1'"
    )


def test_not_and_any_nest() -> None:
    rules = {"long": {"entry": {"any": [{"not": {"lt": ["fast", 3]}}, {"gte": ["close", "slow"]}]}}}
    spec = parse(doc(rules=rules))
    assert canonical(spec)["rules"]["long"]["entry"] == rules["long"]["entry"]
    assert yaml.safe_dump(canonical(spec))  # storable as YAML too
