"""Fault injection: the failures real exchanges produce, per endpoint, deterministic by seed.

A rule names a fault kind, the endpoints it applies to (``"POST /fapi/v1/order"``, a
glob such as ``"* /fapi/v1/*"``, or ``"*"``), a probability, an optional count, and how
many matching requests to let through first (``after``: "the third page fails"). Each
rule draws from its own ``random.Random`` seeded from the venue seed and the rule's
position, so the same sequence of requests meets the same faults on every run.

Kinds: ``latency`` (added delay), ``http_error`` (5xx), ``rate_limit`` (429 +
Retry-After), ``ban`` (418 + Retry-After), ``lost_response`` (the request is executed,
then the connection stays silent for ``hold_ms`` and is dropped: the client sees a
timeout), ``delayed_fill`` (orders are acknowledged but cannot fill for ``delay_ms`` of
market time). Venue-wide: ``clock_offset_ms`` (skews the venue clock, provoking -1021)
and ``maintenance`` (every Binance endpoint answers 503).
"""

from __future__ import annotations

import fnmatch
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = frozenset({"latency", "http_error", "rate_limit", "ban", "lost_response", "delayed_fill"})


@dataclass
class FaultRule:
    kind: str
    endpoint: str = "*"
    probability: float = 1.0
    count: int | None = None
    latency_ms: int = 0
    status: int = 503
    retry_after_s: int = 1
    hold_ms: int = 3000
    delay_ms: int = 5000
    after: int = 0  # matching requests let through before the rule may fire
    fired: int = 0
    seen: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {sorted(KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault probability {self.probability} is outside [0, 1]")

    def matches(self, method: str, path: str) -> bool:
        pattern = self.endpoint
        if pattern == "*":
            return True
        if " " in pattern:
            m, p = pattern.split(" ", 1)
            return fnmatch.fnmatchcase(method, m) and fnmatch.fnmatchcase(path, p)
        return fnmatch.fnmatchcase(path, pattern)


@dataclass
class FaultState:
    """The faults in force; changed at runtime through the control API or a config file."""

    seed: int = 1
    rules: list[FaultRule] = field(default_factory=list)
    clock_offset_ms: int = 0
    maintenance: bool = False
    _rngs: list[random.Random] = field(default_factory=list, repr=False)

    def configure(self, spec: dict[str, Any], *, replace: bool = True) -> None:
        """Apply ``{"rules": [...], "clock_offset_ms": n, "maintenance": bool}``.

        Raises ValueError naming the bad rule, so a typo in a config file fails loudly.
        """
        rules = [FaultRule(**r) for r in spec.get("rules", [])]
        if replace:
            self.rules, self._rngs = [], []
        for rule in rules:
            self._rngs.append(random.Random(self.seed * 7919 + len(self.rules)))
            self.rules.append(rule)
        if "clock_offset_ms" in spec:
            self.clock_offset_ms = int(spec["clock_offset_ms"])
        if "maintenance" in spec:
            self.maintenance = bool(spec["maintenance"])

    def clear(self) -> None:
        self.rules, self._rngs = [], []
        self.clock_offset_ms = 0
        self.maintenance = False

    def decide(self, method: str, path: str) -> list[FaultRule]:
        """The rules that fire for this request (each rule draws once per matching request)."""
        fired = []
        for rule, rng in zip(self.rules, self._rngs, strict=True):
            if not rule.matches(method, path):
                continue
            rule.seen += 1
            if rule.seen <= rule.after:
                continue
            if rule.count is not None and rule.fired >= rule.count:
                continue
            if rng.random() < rule.probability:
                rule.fired += 1
                fired.append(rule)
        return fired

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "clock_offset_ms": self.clock_offset_ms,
            "maintenance": self.maintenance,
            "rules": [asdict(r) for r in self.rules],
        }


def load_fault_file(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON fault file into the dict ``FaultState.configure`` takes."""
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with 'rules', 'clock_offset_ms', 'maintenance'")
    return data
