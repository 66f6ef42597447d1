"""Strategy tests on the real parts: a migrated Postgres (with a SHADOW and a LIVE account) and
a simulator with five hours of 1 m history (helpers: ``kairos_testkit.strategies``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kairos_testkit.strategies import migrated
from kairos_testkit.venue_sim import START_MS, VenueSimHandle, running_venue_sim


@pytest.fixture
def db(database_url: str) -> str:
    return migrated(database_url)


@pytest.fixture(scope="module")
def sim() -> Iterator[VenueSimHandle]:
    """Three archived hours before START_MS, then two live hours: 300 closed 1 m candles."""
    with running_venue_sim(seed=11, warmup_ticks=0, start_ms=START_MS, tick_ms=1000) as handle:
        handle.control.step(ticks=7200)
        yield handle
