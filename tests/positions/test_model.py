"""Value types: JSON round trips (the projection is stored as jsonb) and small helpers."""

from __future__ import annotations

import json

import pytest
from kairos.positions.fold import apply_fill
from kairos.positions.model import (
    Fill,
    OrderSide,
    OrderState,
    Position,
    PositionSide,
    ProtectiveKind,
    ProtectiveOrder,
    TrailState,
)
from kairos_testkit.position_builders import D, exit_fill, fill, opened, protection
from pydantic import ValidationError


def test_position_survives_a_json_round_trip_with_levels_trail_and_trade_ids() -> None:
    pos = apply_fill(opened(prot=protection()), exit_fill("sell", "0.5", "110", tag=ProtectiveKind.TP, tp_level=0))
    stored = pos.position.model_copy(update={"trail": TrailState(activated=True, extreme=D("111.5"))})
    text = stored.model_dump_json()
    raw = json.loads(text)
    assert isinstance(raw["realised_pnl"], str) and D(raw["realised_pnl"]) == D(5)  # money as strings
    assert raw["applied_trade_ids"] == sorted(raw["applied_trade_ids"])  # deterministic output
    assert Position.model_validate_json(text) == stored


def test_events_survive_a_json_round_trip() -> None:
    result = apply_fill(None, fill("buy", "1", "100"))
    event = result.events[0]
    assert type(event).model_validate_json(event.model_dump_json()) == event
    assert event.event_type == "kairos.event.position_opened"


def test_floats_are_refused_for_money() -> None:
    with pytest.raises(ValidationError):
        Fill.model_validate({**fill("buy", "1", "100").model_dump(), "price": 100.5})


def test_side_helpers_and_order_views() -> None:
    assert PositionSide.LONG.exit_side is OrderSide.SELL and PositionSide.SHORT.exit_side is OrderSide.BUY
    assert OrderSide.BUY.sign == 1 and PositionSide.SHORT.sign == -1
    o = ProtectiveOrder(kind=ProtectiveKind.SL, client_order_id="c", command_id="cmd-c", status=OrderState.UNKNOWN,
                        price=D(1), quantity=D(2), filled_quantity=D("0.5"))
    assert o.pending and o.active and not o.resting and o.open_quantity == D("1.5")
    assert not o.model_copy(update={"status": OrderState.EXPIRED}).active


def test_with_protection_bumps_revision_and_unrealised_pnl_is_signed() -> None:
    pos = opened("sell", "2", "100")
    assert pos.with_protection(protection(sl="120")).revision == pos.revision + 1
    assert pos.unrealised_pnl(D(90)) == D(20) and pos.signed_quantity == D(-2)
