"""portfolio-snapshot: the first tests of the stage, on the real Postgres and broker.

Written by ``kairos new function``. Add one test per rule of the stage: deliver the event it
reacts to (``fn.process(to_cloudevent(envelope))``) and assert what it wrote and published.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kairos_testkit.events import ping_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics

NAME = "portfolio-snapshot"


def test_handles_its_tick(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        outcome = fn.process(ping_event("/tests/cron/portfolio-snapshot", datetime.now(UTC), {"job": NAME}))
        assert outcome.status == 204, outcome.reason
