"""Positions pure core: fold throughput, plan (one sync cycle) time, scheduler and SLO at scale.

No I/O: this measures the CPU a position-sync / projection / scheduler process spends in the
domain code, so the integration's numbers can be read as "core + Postgres + broker + venue".

    python -m bench positions
    python -m bench.bench_positions --fills 200000 --sizes 456,10000,50000
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kairos.positions.fold import OpenDefaults, apply_fill
from kairos.positions.model import (
    Fill,
    FillIntent,
    OrderSide,
    OrderState,
    Position,
    Protection,
    ProtectiveKind,
    ProtectiveOrder,
    StopLoss,
    TakeProfitLevel,
    Trailing,
    TrailingMode,
    VenueRules,
)
from kairos.positions.plan import VenueChecks, plan
from kairos.positions.schedule import ScheduleEntry, schedule
from kairos.positions.slo import ProtectionRecord, evaluate

T0 = datetime(2026, 11, 23, tzinfo=UTC)
RULES = VenueRules(tick_size=Decimal("0.01"), step_size=Decimal("0.001"), min_quantity=Decimal("0.001"))
PROTECTION = Protection(
    take_profits=(
        TakeProfitLevel(distance_pct=Decimal(2), fraction=Decimal("0.5")),
        TakeProfitLevel(distance_pct=Decimal(4), fraction=Decimal("0.5")),
    ),
    stop_loss=StopLoss(distance_pct=Decimal(2)),
)
TRAILED = PROTECTION.model_copy(update={"trailing": Trailing(callback_rate=Decimal(1), mode=TrailingMode.EMULATED)})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_fill(rnd: random.Random, i: int, slot: int) -> Fill:
    return Fill(
        venue_trade_id=f"t{i}",
        account="acct",
        venue="binanceusdm",
        symbol=f"S{slot}/USDT:USDT",
        side=OrderSide.BUY if rnd.random() < 0.55 else OrderSide.SELL,
        quantity=Decimal(rnd.randint(1, 2000)) / 1000,
        price=Decimal(rnd.randint(9000, 11000)) / 100,
        fee=Decimal(rnd.randint(0, 100)) / 10000,
        occurred_at=T0 + timedelta(milliseconds=i),
    )


def bench_fold(n: int) -> dict[str, float]:
    rnd = random.Random(7)
    fills = [make_fill(rnd, i, rnd.randrange(1000)) for i in range(n)]
    slots: dict[str, Position] = {}
    defaults = OpenDefaults(protection=PROTECTION)
    t0, c0 = time.perf_counter(), time.process_time()
    for f in fills:
        slots[f.symbol] = apply_fill(slots.get(f.symbol), f, defaults).position
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"fills_per_s": n / wall, "us_per_fill": wall / n * 1e6, "cpu_fills_per_s": n / cpu}


def book_for(pos: Position, state: int) -> list[ProtectiveOrder]:
    """0: nothing yet (creation); 1: exact protection (ongoing); 2: sized for double (promotion)."""
    if state == 0:
        return []
    scale = Decimal(1) if state == 1 else Decimal(2)
    entry = pos.entry_price
    half = pos.quantity / 2 * scale
    pid = pos.position_id

    def view(kind: ProtectiveKind, name: str, price: Decimal, qty: Decimal, level: int | None) -> ProtectiveOrder:
        return ProtectiveOrder(kind=kind, client_order_id=f"{pid}-{name}", command_id=f"c-{pid}-{name}",
                               status=OrderState.OPEN, price=price.quantize(Decimal("0.01")), quantity=qty, level=level)

    return [
        view(ProtectiveKind.TP, "tp0", entry * Decimal("1.02"), half, 0),
        view(ProtectiveKind.TP, "tp1", entry * Decimal("1.04"), half, 1),
        view(ProtectiveKind.SL, "sl", entry * Decimal("0.98"), pos.quantity * scale, None),
    ]


def bench_plan(n: int) -> dict[str, float]:
    rnd = random.Random(11)
    cases = []
    for i in range(n):
        f = Fill(venue_trade_id=f"open{i}", account="acct", venue="binanceusdm", symbol=f"S{i}/USDT:USDT",
                 side=OrderSide.BUY if i % 2 else OrderSide.SELL, quantity=Decimal(rnd.randint(2, 2000)) / 1000,
                 price=Decimal(rnd.randint(9000, 11000)) / 100, occurred_at=T0, intent=FillIntent.ENTRY)
        pos = apply_fill(None, f, OpenDefaults(protection=TRAILED if i % 4 == 0 else PROTECTION)).position
        mark = pos.entry_price * Decimal("1.005")
        checks = VenueChecks(position_open=True, tp_filled=False, closable_quantity=pos.quantity)
        cases.append((pos, book_for(pos, i % 3), mark, checks))
    per: list[float] = []
    actions = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for pos, book, mark, checks in cases:
        s = time.perf_counter()
        actions += len(plan(pos, book, RULES, mark=mark, checks=checks).actions)
        per.append(time.perf_counter() - s)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"cycle_ms": wall * 1000, "cpu_ms": cpu * 1000, "p50_us": pct(per, 0.5) * 1e6,
            "p99_us": pct(per, 0.99) * 1e6, "actions": float(actions)}


def bench_schedule_and_slo(n: int) -> dict[str, float]:
    entries = [ScheduleEntry(f"p{i}", unprotected_since=T0 - timedelta(seconds=i % 40) if i % 10 == 0 else None)
               for i in range(n)]
    t0 = time.perf_counter()
    schedule(entries, T0)
    sched = time.perf_counter() - t0
    records = [ProtectionRecord(f"p{i}", T0, protected_at=T0 + timedelta(milliseconds=i % 9000),
                                unprotected_since=T0 if i % 50 == 0 else None) for i in range(n)]
    t0 = time.perf_counter()
    evaluate(records, T0 + timedelta(minutes=1), placements_attempted=n, placements_succeeded=n)
    return {"schedule_ms": sched * 1000, "slo_ms": (time.perf_counter() - t0) * 1000}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_positions")
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--sizes", default="456,10000")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, python {platform.python_version()}, {platform.platform()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    fold = bench_fold(args.fills)
    print(f"fold: {args.fills} fills over 1000 slots: {fold['fills_per_s']:.0f} fills/s wall "
          f"({fold['us_per_fill']:.1f} us/fill), {fold['cpu_fills_per_s']:.0f} fills per CPU-second")
    for n in (int(s) for s in args.sizes.split(",")):
        p = bench_plan(n)
        print(f"plan: {n} positions (1/3 creation, 1/3 ongoing, 1/3 promotion; 1/4 trailed): cycle "
              f"{p['cycle_ms']:.0f} ms wall / {p['cpu_ms']:.0f} ms CPU, "
              f"per position p50 {p['p50_us']:.0f} us / p99 {p['p99_us']:.0f} us, {p['actions']:.0f} actions")
        s = bench_schedule_and_slo(n)
        print(f"schedule+slo: {n} positions: schedule {s['schedule_ms']:.1f} ms, slo evaluate {s['slo_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
