"""Strategy tests on the real parts: a migrated Postgres (with a SHADOW and a LIVE account) and
a simulator with five hours of 1 m history (helpers: ``kairos_testkit.strategies``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kairos_testkit.strategies import history_sim, migrated
from kairos_testkit.venue_sim import VenueSimHandle


@pytest.fixture
def db(database_url: str) -> str:
    return migrated(database_url)


@pytest.fixture(scope="module")
def sim() -> Iterator[VenueSimHandle]:
    """300 closed 1 m candles (``kairos_testkit.strategies.history_sim``)."""
    with history_sim() as handle:
        yield handle
