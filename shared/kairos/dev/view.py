"""The live view: a rich screen on a terminal, one plain line per second otherwise.

The plain mode exists for CI logs and for the runner's own tests, which read it: every
line starts with the elapsed time, and supervisor events (crashes, restarts) are printed
on lines of their own, prefixed with ``!``, so they are never lost between two refreshes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TextIO

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from kairos.dev.observe import Alert, FunctionView, SubscriptionView


@dataclass
class Snapshot:
    elapsed: float
    phase: str
    functions: list[FunctionView] = field(default_factory=list)
    subscriptions: list[SubscriptionView] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    outbox_backlog: int | None = None
    note: str = ""
    trading: list[str] = field(default_factory=list)  # risk decisions and portfolios (kairos.dev.trading)

    @property
    def total_lag(self) -> int:
        return sum(s.lag for s in self.subscriptions)

    @property
    def dead_lettered(self) -> int:
        return sum(s.dead_lettered for s in self.subscriptions)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def render_rich(snap: Snapshot) -> Group:
    """The terminal screen for one snapshot."""
    head = Text.assemble(
        ("kairos dev ", "bold"),
        (f"{snap.phase}", "green" if snap.phase == "running" else "yellow"),
        f"  up {snap.elapsed:.0f}s  lag {snap.total_lag}  dead letters {snap.dead_lettered}  outbox backlog ",
        str(snap.outbox_backlog if snap.outbox_backlog is not None else "?"),
        ("   " + snap.note) if snap.note else "",
        "   (Ctrl-C drains and stops; twice stops at once)",
    )
    fns = Table(title="functions", expand=True, title_justify="left", box=box.SIMPLE_HEAD)
    fns.add_column("function", no_wrap=True, min_width=22)
    for col in ("ready", "in", "out", "err", "dup", "fly", "p50 ms", "p99 ms", "restarts"):
        fns.add_column(col, justify="right")
    for f in snap.functions:
        fns.add_row(
            f.name,
            Text("yes", "green") if f.ready else Text("no", "red"),
            f"{f.received:.0f}",
            f"{f.emitted:.0f}",
            Text(f"{f.errors:.0f}", "red" if f.errors else ""),
            f"{f.duplicates:.0f}",
            f"{f.in_flight:.0f}",
            _ms(f.p50),
            _ms(f.p99),
            Text(str(f.restarts), "yellow" if f.restarts else ""),
        )
    subs = Table(title="deliveries (KafkaSource / PingSource)", expand=True, title_justify="left", box=box.SIMPLE_HEAD)
    subs.add_column("subscription", no_wrap=True, min_width=30)
    for col in ("kind", "delivered", "retried", "dead-lettered", "fly", "lag", "restarts"):
        subs.add_column(col, justify="right")
    for s in snap.subscriptions:
        subs.add_row(
            s.name,
            s.kind,
            str(s.delivered),
            str(s.retried),
            Text(str(s.dead_lettered), "red" if s.dead_lettered else ""),
            str(s.in_flight),
            Text(str(s.lag), "yellow" if s.lag else ""),
            Text(str(s.restarts), "red" if s.restarts else ""),
        )
    alerts = Table(
        title="recent alerts and errors", expand=True, title_justify="left", show_header=False, box=box.SIMPLE
    )
    alerts.add_column("time", width=8)
    alerts.add_column("source", width=26)
    alerts.add_column("message")
    for a in snap.alerts[-8:]:
        alerts.add_row(
            time.strftime("%H:%M:%S", time.localtime(a.at)),
            a.source,
            Text(a.message, "red" if a.level in ("error", "critical") else "yellow"),
        )
    if not snap.alerts:
        alerts.add_row("", "", Text("none", "dim"))
    trading = Table(title="risk decisions and portfolio", expand=True, title_justify="left", show_header=False,
                    box=box.SIMPLE)  # fmt: skip
    trading.add_column("line")
    for line in snap.trading or ["no intent decided, no fill yet"]:
        trading.add_row(Text(line, "red" if " rejected " in line else ""))
    return Group(head, fns, subs, alerts, trading)


def plain_line(snap: Snapshot) -> str:
    """One line summarising the snapshot (non-terminal output)."""
    fns = " ".join(
        f"{f.name}[{'ready' if f.ready else 'DOWN'} in={f.received:.0f} out={f.emitted:.0f} err={f.errors:.0f}"
        f" fly={f.in_flight:.0f} p50={_ms(f.p50)}ms p99={_ms(f.p99)}ms restarts={f.restarts}]"
        for f in snap.functions
    )
    backlog = snap.outbox_backlog if snap.outbox_backlog is not None else "?"
    return (
        f"{snap.elapsed:6.1f}s {snap.phase} lag={snap.total_lag} dlq={snap.dead_lettered} backlog={backlog} {fns}"
        + (f" | {snap.note}" if snap.note else "")
    )


class PlainView:
    """Prints a line per refresh and each new alert once."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._printed: set[tuple[float, str, str]] = set()
        self._trading: set[str] = set()

    def message(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def close(self) -> None:
        return

    def show(self, snap: Snapshot) -> None:
        for a in snap.alerts:
            key = (a.at, a.source, a.message)
            if key not in self._printed:
                self._printed.add(key)
                print(f"! {a.source}: {a.message}", file=self.out)
        for line in snap.trading:  # each decision once; a portfolio line whenever its figures change
            figures = line.rsplit(" as of ", 1)[0]
            if figures not in self._trading:
                self._trading.add(figures)
                print(f"$ {line}", file=self.out)
        print(plain_line(snap), file=self.out, flush=True)


class NullView:
    """Used once stdout is gone (terminal closed): the runner keeps stopping, silently."""

    def message(self, text: str) -> None:
        return

    def show(self, snap: Snapshot) -> None:
        return

    def close(self) -> None:
        return
