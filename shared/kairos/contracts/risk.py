"""Risk events: an order intent the risk guardian refused (``risk.rejected``), and what the
guardian wants operators to know about limits and kill switches (``risk.alert``).

A rejection carries its reason code and the numbers that decided it (the observed value,
the limit, the scope), so nobody has to re-run the decision to understand it. The codes are
listed in ``kairos.risk.codes`` and docs/RISK.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kairos.contracts.commands import OrderSide
from kairos.contracts.registry import register
from kairos.contracts.types import Amount, Contract, PositiveAmount, UtcDatetime

#: Where a limit or a kill switch applies: everything, one account, or one strategy.
ScopeKind = Literal["global", "account", "strategy"]
#: LOW: information; MEDIUM: a limit at 80 %; HIGH: a rejection by a limit; CRITICAL: a kill switch engaged.
RiskSeverity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]


@register("kairos.risk.rejected", 1)
class RiskRejected(Contract):
    """The guardian refused an order intent: nothing was sent to the executor."""

    intent_id: str = Field(min_length=8, max_length=64)
    strategy_id: str
    account: str
    venue: str
    symbol: str
    side: OrderSide
    kind: Literal["entry", "exit", "reverse"]
    quantity: PositiveAmount
    reason_code: str = Field(description="one of kairos.risk.codes (docs/RISK.md)")
    message: str
    scope_kind: ScopeKind | None = Field(default=None, description="the scope of the limit or switch that decided")
    scope_id: str | None = None
    observed: Amount | None = Field(
        default=None, description="the value the limit was checked against (after the order)"
    )
    limit: Amount | None = None
    values: dict[str, Amount | str | None] = Field(default_factory=dict, description="every input that decided")
    decided_at: UtcDatetime


@register("kairos.risk.alert", 1)
class RiskAlert(Contract):
    """A limit nearly reached (MEDIUM), an intent rejected by a limit (HIGH), a kill switch
    engaged (CRITICAL), or information (LOW)."""

    alert_id: str = Field(min_length=8, max_length=96)
    severity: RiskSeverity
    code: str
    message: str
    scope_kind: ScopeKind
    scope_id: str
    limit_name: str | None = None
    observed: Amount | None = None
    limit: Amount | None = None
    account: str | None = None
    strategy_id: str | None = None
    at: UtcDatetime
