"""Fixtures: a fresh simulator per test (stepped clock, fixed seed) and a ccxt client for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kairos_testkit.venue_sim import START_MS, VenueSimHandle, running_venue_sim


@pytest.fixture
def sim() -> Iterator[VenueSimHandle]:
    with running_venue_sim(seed=7, warmup_ticks=120, start_ms=START_MS) as handle:
        yield handle


@pytest.fixture
def ex(sim: VenueSimHandle) -> Any:
    client = sim.ccxt(config={"timeout": 5000})
    client.load_markets()
    return client
