"""Field types shared by every contract: money as decimal strings, times in UTC.

Amounts travel as JSON strings ("12.5"), never as JSON numbers, so no consumer in any
language reads them through a binary float. A float handed to a model is refused.

Payloads from the wire are parsed strictly (``kairos.contracts.registry.parse_data``:
pydantic strict mode on the JSON text, with ``WIRE_CONTEXT``), so a model accepts exactly
what its published JSON Schema allows: an amount is a string matching
``DECIMAL_PATTERN`` (a JSON number is refused, as is " 1.5" or "1e5"), a timestamp an
RFC 3339 string with a date, a time and an offset (never a number, never "1700000000"),
an integer a JSON integer (not "3", not true, not 3.0).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic import BaseModel as _BaseModel

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
#: RFC 3339 ``date-time`` (what the schemas' ``"format": "date-time"`` means).
RFC3339_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
_DECIMAL = re.compile(DECIMAL_PATTERN.removesuffix("$") + r"\Z")
_RFC3339 = re.compile(RFC3339_PATTERN.removesuffix("$") + r"\Z")

_DATETIME = TypeAdapter(datetime)

#: Validation context of a payload that came over the wire (JSON): no Python conveniences.
WIRE_CONTEXT = {"wire": True}


def _from_wire(info: ValidationInfo | None) -> bool:
    return bool(info is not None and isinstance(info.context, dict) and info.context.get("wire"))


def _to_decimal(value: Any, info: ValidationInfo) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValueError("amounts must be decimal strings, not floats")
    if isinstance(value, int) and _from_wire(info):
        raise ValueError("amounts must be decimal strings, not JSON numbers")
    if isinstance(value, str) and not _DECIMAL.match(value):
        raise ValueError(f"amounts must be decimal strings like '12.5' (pattern {DECIMAL_PATTERN}), got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
    else:
        raise ValueError(f"not a decimal number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"amount must be finite, got {value!r}")
    return result


def _fmt_decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text


Amount = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(_fmt_decimal, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}),
]
"""A finite decimal carried as a JSON string."""


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be > 0, got {value}")
    return value


#: A decimal string above zero, as a pattern (what ``_positive`` accepts, for the schema).
POSITIVE_DECIMAL_PATTERN = r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|[0-9]+\.[0-9]*[1-9][0-9]*)$"

PositiveAmount = Annotated[
    Amount, AfterValidator(_positive), WithJsonSchema({"type": "string", "pattern": POSITIVE_DECIMAL_PATTERN})
]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a time zone (UTC)")
    return value.astimezone(UTC)


def _rfc3339(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        raise ValueError("timestamps must be RFC 3339 strings, not numbers")
    if isinstance(value, str):
        if not _RFC3339.match(value):
            raise ValueError(f"timestamps must be RFC 3339 date-times with an offset, got {value!r}")
        # parsed here: in strict mode the field's own validator would refuse the string
        return _DATETIME.validate_python(value)
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_utc)]


class Contract(_BaseModel):
    """Base of every event payload: immutable, strict about unknown fields.

    ``RULES``: the model's cross-field rules that JSON Schema cannot state (one field
    compared with another); each is the start of the message its validator raises, and
    the schema publishes them as ``x-kairos-rules``. Everything else a model checks, its
    schema says (``tests/contracts/test_schema_fuzz.py`` holds both to that).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    RULES: ClassVar[tuple[str, ...]] = ()
