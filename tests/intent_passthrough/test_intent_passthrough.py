"""intent-passthrough: every order intent becomes one market cmd.execute_trade, unchanged, its
command id derived from the intent id (the risk stage will take this slot)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import new_event
from kairos.contracts.strategies import OrderIntent
from kairos.strategies import passthrough
from kairos_testkit.events import ping_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes

NAME = "intent-passthrough"


def intent(kind: str = "entry", **changes: object) -> OrderIntent:
    data: dict[str, object] = dict(
        intent_id="oi-0123456789abcdef0123456789abcdef", strategy_id="sma-crossover", strategy_version=2,
        account="acc-live", venue="binanceusdm", symbol="BTC/USDT:USDT", side="sell", kind=kind,
        position_side="long", quantity=Decimal("0.25"), reduce_only=kind == "exit",
        signal_id="sg-0123456789abcdef0123456789abcdef", timeframe="1m",
        candle_open_time=datetime(2026, 1, 1, tzinfo=UTC), price_reference=Decimal("60000"),
    )  # fmt: skip
    data.update(changes)
    return OrderIntent.model_validate(data)


@pytest.mark.parametrize(("kind", "cmd_intent", "reduce_only"), [("entry", "entry", False), ("reverse", "entry", False),
                                                                  ("exit", "exit", True)])  # fmt: skip
def test_an_intent_becomes_the_same_market_order(kind: str, cmd_intent: str, reduce_only: bool) -> None:
    cmd = passthrough.to_command(intent(kind))
    assert (cmd.order_type, cmd.side, cmd.quantity, cmd.reduce_only, cmd.intent) == (
        "market", "sell", Decimal("0.25"), reduce_only, cmd_intent)
    assert (cmd.account, cmd.symbol, cmd.strategy_id) == ("acc-live", "BTC/USDT:USDT", "sma-crossover")
    assert cmd.command_id == "ex-0123456789abcdef0123456789abcdef" == passthrough.command_id(intent(kind))


def test_the_intent_contract_ties_reduce_only_to_the_kind() -> None:
    with pytest.raises(ValueError, match="exit intent must be reduce_only"):
        intent("exit", reduce_only=False)
    with pytest.raises(ValueError, match="must not be reduce_only"):
        intent("entry", reduce_only=True)


def test_refuses_event_types_it_does_not_subscribe_to(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        outcome = fn.process(ping_event("/tests/cron/intent-passthrough", datetime.now(UTC)))
        assert (outcome.status, outcome.code) == (400, "unexpected_event_type"), outcome.reason


def test_publishes_one_command_per_intent_even_when_redelivered(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    event = new_event(intent(), source="/test", partition_key="acc-live|BTC/USDT:USDT")
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        assert fn.process(to_cloudevent(event)).status == 204
        assert fn.process(to_cloudevent(event)).emitted == []
    [cmd] = record_envelopes(read_topic(kafka_bootstrap, "cmd.execute_trade", expect=1))
    assert cmd.data.command_id == "ex-0123456789abcdef0123456789abcdef" and cmd.meta.causation_id == event.meta.id
