"""Invariants of the fold over random fill sequences (hypothesis, bounded examples)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from kairos.positions.fold import apply_fill, fold_all
from kairos.positions.model import Fill, OrderSide, PositionStatus
from kairos_testkit.position_builders import D, fill

TOLERANCE = Decimal("1e-18")

qty = st.integers(min_value=1, max_value=5000).map(lambda n: D(n) / 1000)
price = st.integers(min_value=100, max_value=100_000).map(lambda n: D(n) / 100)
fee = st.integers(min_value=0, max_value=100).map(lambda n: D(n) / 1000)
raw_fill = st.tuples(st.sampled_from(["buy", "sell"]), qty, price, fee)


def build(raw: list[tuple[str, Decimal, Decimal, Decimal]], prefix: str, symbol: str = "ETH/USDT:USDT") -> list[Fill]:
    return [fill(s, q, p, fee=f, trade=f"{prefix}{i}", symbol=symbol) for i, (s, q, p, f) in enumerate(raw)]


def cash_flow(fills: list[Fill], mark: Decimal) -> Decimal:
    net = sum((f.side.sign * f.quantity for f in fills), Decimal(0))
    cash = sum((-f.side.sign * f.quantity * f.price - f.fee for f in fills), Decimal(0))
    return cash + net * mark


@settings(max_examples=80, deadline=None)
@given(st.lists(raw_fill, min_size=1, max_size=25))
def test_fold_quantity_equals_signed_sum_of_fills(raw: list[tuple[str, Decimal, Decimal, Decimal]]) -> None:
    fills = build(raw, "q")
    positions, _ = fold_all(fills)
    net = sum((f.side.sign * f.quantity for f in fills), Decimal(0))
    current = [p for p in positions.values() if p.status is not PositionStatus.CLOSED]
    assert sum((p.signed_quantity for p in current), Decimal(0)) == net
    assert len(current) <= 1  # one-way mode: one open position per slot at most


@settings(max_examples=80, deadline=None)
@given(st.lists(raw_fill, min_size=1, max_size=25), price)
def test_fold_realised_plus_unrealised_equals_cash_flow_pnl(
    raw: list[tuple[str, Decimal, Decimal, Decimal]], mark: Decimal
) -> None:
    fills = build(raw, "c")
    positions, _ = fold_all(fills)
    total = sum((p.realised_pnl + p.unrealised_pnl(mark) for p in positions.values()), Decimal(0))
    assert abs(total - cash_flow(fills, mark)) <= TOLERANCE


@settings(max_examples=80, deadline=None)
@given(
    st.lists(raw_fill, min_size=1, max_size=12),
    st.lists(raw_fill, min_size=1, max_size=12),
    st.randoms(use_true_random=False),
)
def test_fold_interleaving_of_distinct_positions_is_irrelevant(
    raw_a: list[tuple[str, Decimal, Decimal, Decimal]],
    raw_b: list[tuple[str, Decimal, Decimal, Decimal]],
    rnd: object,
) -> None:
    a, b = build(raw_a, "a", "ETH/USDT:USDT"), build(raw_b, "b", "BTC/USDT:USDT")
    sequential, _ = fold_all(a + b)
    queues, mixed = [list(a), list(b)], []
    while queues[0] or queues[1]:
        pick = rnd.choice([q for q in queues if q])  # type: ignore[attr-defined]
        mixed.append(pick.pop(0))
    interleaved, _ = fold_all(mixed)
    assert interleaved == sequential


@settings(max_examples=80, deadline=None)
@given(st.lists(raw_fill, min_size=1, max_size=15), st.data())
def test_fold_replaying_fills_changes_nothing(
    raw: list[tuple[str, Decimal, Decimal, Decimal]], data: st.DataObject
) -> None:
    fills = build(raw, "r")
    once, events_once = fold_all(fills)
    replayed: list[Fill] = []
    for f in fills:
        replayed.append(f)
        replayed.extend([f] * data.draw(st.integers(min_value=0, max_value=2)))
    twice, events_twice = fold_all(replayed)
    assert twice == once and events_twice == events_once


@settings(max_examples=80, deadline=None)
@given(st.lists(raw_fill, min_size=1, max_size=15))
def test_apply_fill_twice_in_a_row_is_a_noop(raw: list[tuple[str, Decimal, Decimal, Decimal]]) -> None:
    position = None
    for f in build(raw, "d"):
        first = apply_fill(position, f)
        second = apply_fill(first.position, f)
        assert second.duplicate and second.position == first.position and second.events == ()
        position = first.position


@settings(max_examples=80, deadline=None)
@given(st.lists(raw_fill, min_size=1, max_size=25))
def test_fold_average_entry_stays_within_entry_prices(raw: list[tuple[str, Decimal, Decimal, Decimal]]) -> None:
    fills = build(raw, "e")
    positions, _ = fold_all(fills)
    prices = [f.price for f in fills]
    for p in positions.values():
        assert min(prices) <= p.entry_price <= max(prices)
        assert p.quantity >= 0 and p.peak_quantity >= p.quantity
        assert (p.quantity == 0) == (p.status is PositionStatus.CLOSED)
        assert p.side.exit_side is (OrderSide.SELL if p.side.sign > 0 else OrderSide.BUY)
