"""Fixtures of the execution tests: a fresh simulator and a LIVE account per test."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from kairos.execution.wiring import ExecutionRuntime
from kairos.venue_sim.venue import AccountSeed
from kairos_testkit.execution import API_KEY, SECRET, VENUE_SYMBOL, runtime, setup_account
from kairos_testkit.venue_sim import running_venue_sim


@pytest.fixture
def sim() -> Iterator[Any]:
    with running_venue_sim(seed=7, accounts=[AccountSeed(API_KEY, SECRET, Decimal("5000000"))], warmup_ticks=5) as s:
        s.control.set_price(VENUE_SYMBOL, "60000")
        yield s


@pytest.fixture
def rt(database_url: str, sim: Any) -> Iterator[ExecutionRuntime]:
    setup_account(database_url, sim)
    with runtime(database_url) as r:
        yield r
