"""Fixtures of the positions integration tests: a fresh simulator per test (BTC at 60,000)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from kairos.venue_sim.venue import AccountSeed
from kairos_testkit.execution import VENUE_SYMBOL
from kairos_testkit.venue_sim import running_venue_sim

API_KEY, SECRET = "kp-test-api-key-8Rf0", "kp-test-secret-As5nX3qM1wYt"


@pytest.fixture
def sim() -> Iterator[Any]:
    with running_venue_sim(seed=3, accounts=[AccountSeed(API_KEY, SECRET, Decimal("5000000"))], warmup_ticks=5) as s:
        s.control.set_price(VENUE_SYMBOL, "60000")
        yield s
