"""The demo reactor's rule: which swap demands become trade commands.

A solver fills a demand by taking the other side: a demander who buys the base makes us
sell it. The command id is derived from the demand's event id and the rule's identity,
so a redelivered demand yields the same command, and a changed rule yields new ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import stable_id
from kairos.contracts.market import SwapDemand
from kairos.domain.reference_prices import pair_price
from kairos.errors import ConfigError

PAPER_ACCOUNT = "paper-near-intents"
QUANTITY_PLACES = Decimal("0.00000001")


@dataclass(frozen=True)
class ReactorRule:
    pairs: frozenset[str]
    min_amount: Decimal
    max_amount: Decimal

    @property
    def rule_id(self) -> str:
        text = f"{sorted(self.pairs)}|{self.min_amount}|{self.max_amount}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReactorRule:
        try:
            pairs = frozenset(p.strip() for p in env.get("KAIROS_REACTOR_PAIRS", "").split(",") if p.strip())
            low = Decimal(env.get("KAIROS_REACTOR_MIN_AMOUNT", "0"))
            high = Decimal(env.get("KAIROS_REACTOR_MAX_AMOUNT", "1000000"))
        except ArithmeticError:
            raise ConfigError("KAIROS_REACTOR_MIN_AMOUNT / KAIROS_REACTOR_MAX_AMOUNT must be decimals") from None
        if not pairs:
            raise ConfigError("KAIROS_REACTOR_PAIRS is empty: list the pairs to trade, e.g. NEAR/USDC,ETH/USDC")
        return cls(pairs=pairs, min_amount=low, max_amount=high)


@dataclass(frozen=True)
class Decision:
    command: ExecuteTrade | None
    reason: str


def base_quantity(demand: SwapDemand) -> Decimal | None:
    """The demand's size in base units (converted at the reference price when in quote)."""
    base, _, _quote = demand.pair.partition("/")
    if demand.amount_asset == base:
        return demand.amount
    price = pair_price(demand.pair)
    if price is None or price <= 0:
        return None
    return (demand.amount / price).quantize(QUANTITY_PLACES)


def decide(demand: SwapDemand, demand_event_id: str, rule: ReactorRule) -> Decision:
    """A command for an allowed demand within bounds, or no command and why."""
    if demand.pair not in rule.pairs:
        return Decision(None, f"pair {demand.pair} is not allowed")
    quantity = base_quantity(demand)
    if quantity is None or quantity <= 0:
        return Decision(None, f"no reference price to size {demand.pair}")
    if not rule.min_amount <= quantity <= rule.max_amount:
        return Decision(None, f"size {quantity} outside [{rule.min_amount}, {rule.max_amount}]")
    command = ExecuteTrade(
        command_id=stable_id("reactor", rule.rule_id, demand_event_id),
        account=PAPER_ACCOUNT,
        venue="near_intents",
        symbol=demand.pair,
        side="sell" if demand.side == "buy" else "buy",
        order_type="market",
        quantity=quantity,
        strategy_id=f"near-intents-reactor:{rule.rule_id}",
        intent="entry",
        expires_at=demand.deadline,
    )
    return Decision(command, "accepted")
