"""The strategy document: a declarative rule language over closed candles (no user code).

A document (YAML or JSON) names an account, a universe (venue, symbols, timeframe), named
indicators, entry/exit conditions for long and short, a sizing rule and optionally the
protection of the positions it opens. ``parse`` turns text into a ``StrategySpec`` or raises
``StrategyInvalid`` listing every problem as (field path, what was expected, what was found),
so an operator can fix the document without reading this module.

Conditions are one-key mappings: ``{crosses_above: [a, b]}``, ``{gt: [a, b]}``,
``{all: [...]}``, ``{any: [...]}``, ``{not: ...}``. An operand is an indicator name
(``fast``; ``bb.upper`` for one output of a multi-output indicator), a candle field
(``close``, ``open``, ``high``, ``low``, ``volume``) or a number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from kairos.contracts.market_data import Timeframe
from kairos.contracts.types import PositiveAmount
from kairos.positions.model import Protection

CANDLE_FIELDS = ("open", "high", "low", "close", "volume")

#: Outputs of the multi-output indicators, addressed as ``name.output``.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "bollinger": ("upper", "middle", "lower"),
    "macd": ("macd", "signal", "hist"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Source = Literal["open", "high", "low", "close", "volume"]


class SMA(_Strict):
    type: Literal["sma"]
    period: int = Field(ge=2, le=1000)
    source: Source = "close"


class EMA(_Strict):
    type: Literal["ema"]
    period: int = Field(ge=2, le=1000)
    source: Source = "close"


class RSI(_Strict):
    type: Literal["rsi"]
    period: int = Field(ge=2, le=1000)
    source: Source = "close"


class ATR(_Strict):
    type: Literal["atr"]
    period: int = Field(ge=1, le=1000)


class Bollinger(_Strict):
    type: Literal["bollinger"]
    period: int = Field(ge=2, le=1000)
    stddev: float = Field(default=2.0, gt=0, le=10)
    source: Source = "close"


class MACD(_Strict):
    type: Literal["macd"]
    fast: int = Field(default=12, ge=2, le=1000)
    slow: int = Field(default=26, ge=2, le=1000)
    signal: int = Field(default=9, ge=1, le=1000)
    source: Source = "close"


class Highest(_Strict):
    type: Literal["highest"]
    period: int = Field(ge=2, le=1000)
    source: Source = "high"


class Lowest(_Strict):
    type: Literal["lowest"]
    period: int = Field(ge=2, le=1000)
    source: Source = "low"


class RateOfChange(_Strict):
    type: Literal["roc"]
    period: int = Field(ge=1, le=1000)
    source: Source = "close"


Indicator = Annotated[
    SMA | EMA | RSI | ATR | Bollinger | MACD | Highest | Lowest | RateOfChange, Field(discriminator="type")
]

Operand = str | float | int


class CrossesAbove(_Strict):
    crosses_above: tuple[Operand, Operand]


class CrossesBelow(_Strict):
    crosses_below: tuple[Operand, Operand]


class Gt(_Strict):
    gt: tuple[Operand, Operand]


class Gte(_Strict):
    gte: tuple[Operand, Operand]


class Lt(_Strict):
    lt: tuple[Operand, Operand]


class Lte(_Strict):
    lte: tuple[Operand, Operand]


class All(_Strict):
    all: list[Condition] = Field(min_length=1)


class Any_(_Strict):
    any: list[Condition] = Field(min_length=1)


class Not(_Strict):
    not_: Condition = Field(alias="not")


Condition = Annotated[
    Annotated[CrossesAbove, Tag("crosses_above")]
    | Annotated[CrossesBelow, Tag("crosses_below")]
    | Annotated[Gt, Tag("gt")]
    | Annotated[Gte, Tag("gte")]
    | Annotated[Lt, Tag("lt")]
    | Annotated[Lte, Tag("lte")]
    | Annotated[All, Tag("all")]
    | Annotated[Any_, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(
        lambda v: _condition_tag(v),
        custom_error_type="condition",
        custom_error_message="a one-key mapping: crosses_above, crosses_below, gt, gte, lt, lte, all, any or not",
    ),
]

for _model in (All, Any_, Not):
    _model.model_rebuild()

_TAGS: dict[type[BaseModel], str] = {
    CrossesAbove: "crosses_above", CrossesBelow: "crosses_below", Gt: "gt", Gte: "gte", Lt: "lt", Lte: "lte",
    All: "all", Any_: "any", Not: "not",
}


_TAG_NAMES = set(_TAGS.values())


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(next(iter(value))) if len(value) == 1 else None
    return _TAGS.get(type(value))


class SideRules(_Strict):
    """When to open and when to close a position on one side."""

    entry: Condition
    exit: Condition | None = None


class Rules(_Strict):
    long: SideRules | None = None
    short: SideRules | None = None


class FixedQuantity(_Strict):
    type: Literal["fixed_quantity"]
    quantity: PositiveAmount


class FixedNotional(_Strict):
    type: Literal["fixed_notional"]
    notional: PositiveAmount = Field(description="quote currency per entry")


class PercentOfEquity(_Strict):
    type: Literal["percent_of_equity"]
    percent: PositiveAmount = Field(le=100)


class RiskPerTrade(_Strict):
    type: Literal["risk_per_trade"]
    risk_percent: PositiveAmount = Field(le=100, description="percent of equity lost if the stop is hit")
    atr: str = Field(description="name of an atr indicator of this strategy")
    atr_multiple: PositiveAmount = Field(description="stop distance = atr x this")


Sizing = Annotated[FixedQuantity | FixedNotional | PercentOfEquity | RiskPerTrade, Field(discriminator="type")]


class Universe(_Strict):
    venue: str = Field(min_length=1)
    symbols: list[str] = Field(min_length=1, max_length=500)
    timeframe: Timeframe


class StrategySpec(_Strict):
    """One strategy document, as validated (the stored version is its canonical JSON)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="the strategy id (orders carry it)")
    description: str = ""
    account: str = Field(min_length=1)
    universe: Universe
    equity: PositiveAmount | None = Field(
        default=None, description="the capital percent_of_equity and risk_per_trade size from (quote currency)"
    )
    indicators: dict[str, Indicator] = Field(default_factory=dict)
    rules: Rules
    sizing: Sizing
    protection: Protection | None = None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where, what was expected, what was found."""

    path: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{self.path or '(document)'}: expected {self.expected}; found {self.found}"


class StrategyInvalid(ValueError):
    """The document does not validate; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _found(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


_UNION_TAGS = {
    "sma", "ema", "rsi", "atr", "bollinger", "macd", "highest", "lowest", "roc",
    "fixed_quantity", "fixed_notional", "percent_of_equity", "risk_per_trade",
}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union tags pydantic adds to a location: the document's path has no such step."""
    out: list[Any] = []
    for i, item in enumerate(loc):
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if item in _TAG_NAMES and nxt == item:
            continue  # {crosses_above: [...]} reported as crosses_above.crosses_above
        if item in _UNION_TAGS and i >= 1 and (loc[i - 1] == "sizing" or (i >= 2 and loc[i - 2] == "indicators")):
            continue
        out.append(item)
    return tuple(out)


def _problems_of(error: ValidationError) -> list[Problem]:
    out: list[Problem] = []
    for e in error.errors():
        found = "nothing" if e["type"] == "missing" else _found(e.get("input"))
        expected = e["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
        if e["type"] == "extra_forbidden":
            expected = "no such field"
        elif e["type"] in ("too_long", "too_short") and e["loc"] and e["loc"][-1] in _TAG_NAMES:
            expected = "two operands"
        elif e["type"] == "union_tag_invalid":
            expected = f"{e['ctx']['discriminator'].strip(chr(39))} one of {e['ctx']['expected_tags']}"
            found = _found(e["ctx"]["tag"])
        elif e["type"] == "union_tag_not_found":
            expected = f"a {e['ctx']['discriminator'].strip(chr(39))} field"
        problem = Problem(_path(_clean_loc(tuple(e["loc"]))), expected, found)
        if problem not in out:
            out.append(problem)
    return out


def load_text(text: str) -> Any:
    """YAML or JSON text to data (JSON is YAML); a syntax error is a Problem at the document."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StrategyInvalid([Problem("", "YAML or JSON", f"a syntax error: {exc}")]) from None


def parse(data: Any) -> StrategySpec:
    """Validate a document (already loaded); raises StrategyInvalid with every problem."""
    if not isinstance(data, dict):
        raise StrategyInvalid([Problem("", "a mapping (strategy document)", _found(data))])
    try:
        spec = StrategySpec.model_validate(data)
    except ValidationError as exc:
        raise StrategyInvalid(_problems_of(exc)) from None
    problems = semantic_problems(spec)
    if problems:
        raise StrategyInvalid(problems)
    return spec


def parse_text(text: str) -> StrategySpec:
    return parse(load_text(text))


def operand_names(spec: StrategySpec) -> set[str]:
    """Every name an operand may use in this strategy."""
    names = set(CANDLE_FIELDS)
    for name, ind in spec.indicators.items():
        outputs = OUTPUTS.get(ind.type)
        names.update(f"{name}.{o}" for o in outputs) if outputs else names.add(name)
    return names


def conditions(spec: StrategySpec) -> list[tuple[str, Any]]:
    """(path, condition) of every rule present, e.g. ("rules.long.entry", ...)."""
    out = []
    for side in ("long", "short"):
        rules = getattr(spec.rules, side)
        if rules is None:
            continue
        out.append((f"rules.{side}.entry", rules.entry))
        if rules.exit is not None:
            out.append((f"rules.{side}.exit", rules.exit))
    return out


def walk(cond: Any, path: str) -> list[tuple[str, Operand]]:
    """Every (path, operand) under a condition."""
    if isinstance(cond, All):
        return [x for i, c in enumerate(cond.all) for x in walk(c, f"{path}.all[{i}]")]
    if isinstance(cond, Any_):
        return [x for i, c in enumerate(cond.any) for x in walk(c, f"{path}.any[{i}]")]
    if isinstance(cond, Not):
        return walk(cond.not_, f"{path}.not")
    tag = _TAGS[type(cond)]
    return [(f"{path}.{tag}[{i}]", v) for i, v in enumerate(getattr(cond, tag))]


def semantic_problems(spec: StrategySpec) -> list[Problem]:
    """What the schema cannot say: undefined names, rules that can never act, sizing inputs."""
    problems: list[Problem] = []
    names = operand_names(spec)
    for path, cond in conditions(spec):
        for op_path, operand in walk(cond, path):
            if isinstance(operand, str) and operand not in names:
                problems.append(Problem(op_path, f"one of {', '.join(sorted(names))} or a number", _found(operand)))
    for name in spec.indicators:
        if name in CANDLE_FIELDS or "." in name:
            expected = "a name that is not a candle field and has no '.'"
            problems.append(Problem(f"indicators.{name}", expected, _found(name)))
    if spec.rules.long is None and spec.rules.short is None:
        problems.append(Problem("rules", "rules.long or rules.short (or both)", "neither"))
    for name, ind in spec.indicators.items():
        if isinstance(ind, MACD) and ind.fast >= ind.slow:
            problems.append(Problem(f"indicators.{name}.slow", f"more than fast ({ind.fast})", str(ind.slow)))
    sizing = spec.sizing
    if isinstance(sizing, PercentOfEquity | RiskPerTrade) and spec.equity is None:
        problems.append(Problem("equity", f"the capital to size from ({sizing.type} sizing)", "nothing"))
    if isinstance(sizing, RiskPerTrade) and not isinstance(spec.indicators.get(sizing.atr), ATR):
        atrs = sorted(n for n, i in spec.indicators.items() if isinstance(i, ATR)) or ["(no atr indicator defined)"]
        expected = f"the name of an atr indicator: {', '.join(atrs)}"
        problems.append(Problem("sizing.atr", expected, _found(sizing.atr)))
    if len(set(spec.universe.symbols)) != len(spec.universe.symbols):
        problems.append(Problem("universe.symbols", "each symbol once", _found(spec.universe.symbols)))
    return problems


def canonical(spec: StrategySpec) -> dict[str, Any]:
    """The stored form: JSON data with defaults filled in, so a version says exactly what runs."""
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def as_number(value: Operand) -> float | None:
    """A numeric operand as a float; None for a name."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def decimal_text(value: float) -> str | None:
    """A float indicator value as a decimal string (10 places, trailing zeros dropped)."""
    if value != value or value in (float("inf"), float("-inf")):
        return None
    d = Decimal(f"{value:.10f}").normalize()
    return format(d, "f") if d != 0 else "0"
