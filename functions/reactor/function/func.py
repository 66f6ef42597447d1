"""reactor: ``norm.swap_demand`` -> ``cmd.execute_trade``, by a configurable rule.

The rule (allowed pairs, size bounds) comes from the environment; a demand it does not
take produces no command. The command id is derived from the demand's id and the rule,
so a redelivered demand yields the very same command.
"""

from __future__ import annotations

import logging

from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.market import SwapDemand
from kairos.domain.reactor import ReactorRule, decide
from kairos.runtime import Context, KairosFunction

log = logging.getLogger("kairos.reactor")


def handle(event: Envelope[SwapDemand], ctx: Context) -> list[Envelope[ExecuteTrade]]:
    decision = decide(event.data, event.meta.id, ReactorRule.from_env(ctx.env))
    if decision.command is None:
        log.info("demand not taken", extra={"reason": decision.reason, "quote_id": event.data.quote_id})
        return []
    cmd = decision.command
    return [derive_event(event, cmd, source=ctx.source, partition_key=f"{cmd.account}|{cmd.symbol}")]


def new() -> KairosFunction:
    return KairosFunction("reactor", handle)
