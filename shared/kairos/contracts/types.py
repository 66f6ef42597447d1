"""Field types shared by every contract: money as decimal strings, times in UTC.

Amounts travel as JSON strings ("12.5"), never as JSON numbers, so no consumer in any
language reads them through a binary float. A float handed to a model is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic import BaseModel as _BaseModel

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValueError("amounts must be decimal strings, not floats")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value).strip())
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


PositiveAmount = Annotated[Amount, AfterValidator(_positive)]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a time zone (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Contract(_BaseModel):
    """Base of every event payload: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
