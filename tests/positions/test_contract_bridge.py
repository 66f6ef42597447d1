"""The core against the execution service's contracts: commands validate, fills map, states agree."""

from __future__ import annotations

import pytest
from kairos.contracts import execution as contract
from kairos.contracts.commands import AmendOrder, CancelOrder, ExecuteTrade
from kairos.contracts.execution import OrderEvent, OrderFill
from kairos.execution import states
from kairos.positions import model
from kairos.positions.actions import ActionKind, amend_order_fields, cancel_order_fields, execute_trade_fields
from kairos.positions.fold import apply_fill
from kairos.positions.inputs import fill_from_exec
from kairos.positions.model import FillIntent, ProtectiveKind, TrailingMode
from kairos.positions.plan import VenueChecks, plan
from kairos_testkit.position_builders import RULES, T0, D, exit_fill, full_protection, opened, order, protection


def test_protective_order_states_are_the_execution_services_states() -> None:
    assert model.OrderState is states.OrderState is contract.OrderState  # one definition, in the contracts
    for field in ("from_state", "to_state"):  # on the wire: a plain string enum of every state
        schema = OrderEvent.model_json_schema()["properties"][field]
        assert schema["type"] == "string" and schema["enum"] == [s.value for s in contract.OrderState]


def test_every_planned_command_validates_against_its_contract() -> None:
    full = opened(prot=protection(trail=("105", "1", TrailingMode.NATIVE)))
    book = [*full_protection(full), order("TP", "130", "0.1", level=7, cid="extra")]
    pos = apply_fill(full, exit_fill("sell", "0.4", "101")).position
    p = plan(pos, book, RULES, mark=D(101), checks=VenueChecks(True, False, pos.quantity))
    kinds = {a.kind for a in p.actions}
    assert {ActionKind.CANCEL, ActionKind.AMEND, ActionKind.PLACE} <= kinds
    for a in p.actions:
        if a.kind is ActionKind.CANCEL:
            cmd: object = CancelOrder(**cancel_order_fields(a, pos))
        elif a.kind is ActionKind.AMEND:
            cmd = AmendOrder(**amend_order_fields(a, pos))
        else:
            cmd = ExecuteTrade(**execute_trade_fields(a, pos))
            assert cmd.client_tag is not None and cmd.client_tag.startswith(pos.position_id)
        assert cmd.command_id == a.command_id  # type: ignore[attr-defined]


def test_builders_refuse_the_wrong_action_kind() -> None:
    pos = opened()
    place = plan(pos, [], RULES).tp[0]
    with pytest.raises(ValueError):
        cancel_order_fields(place, pos)
    with pytest.raises(ValueError):
        amend_order_fields(place, pos)


def test_exec_fill_maps_to_a_core_fill_that_folds() -> None:
    event = OrderFill(command_id="cmd-1", client_order_id="c-1", account="acct-1", venue="binanceusdm",
                      symbol="ETH/USDT:USDT", side="sell", venue_order_id="42", venue_trade_id="T-9",
                      quantity=D("0.5"), price=D(110), fee=D("0.02"), fee_asset="USDT", traded_at=T0, mode="live")
    f = fill_from_exec(event, intent=FillIntent.PROTECTIVE, reduce_only=True, tag=ProtectiveKind.TP, tp_level=0)
    assert (f.venue_trade_id, f.order_id, f.side.value, f.quantity, f.fee) == ("T-9", "42", "sell", D("0.5"), D("0.02"))
    pos = apply_fill(opened(), f).position
    assert pos.tp_filled == {0: D("0.5")} and pos.realised_pnl == D("4.98")
    bnb = fill_from_exec(event, intent=FillIntent.EXIT, reduce_only=True, fee_in_quote=D("0.015"))
    assert bnb.fee == D("0.015") and bnb.fee_asset == "USDT"
