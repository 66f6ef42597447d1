"""archiver: stage every event of the archived topics in Postgres (one row per event).

The archiver is an ordinary subscribing function (inbox, one transaction per delivery), so
at-least-once delivery becomes exactly one staged row per event; archive-flush turns the
staged rows into objects. The topic of an event is found from its type: each archived
topic carries types no other archived topic carries (checked when the map is built).
"""

from __future__ import annotations

import functools
from typing import Any

import psycopg

from kairos.archive import staging
from kairos.catalog import load_catalog
from kairos.contracts.envelope import Envelope
from kairos.errors import ConfigError, UnexpectedEventType


@functools.lru_cache(maxsize=8)
def topics_by_type(function: str) -> dict[str, tuple[str, int]]:
    """Event type -> (topic, partitions) over ``function``'s subscriptions; ConfigError when
    two of them carry the same type (the archive could not tell where an event came from)."""
    catalog = load_catalog()
    spec = catalog.function(function)
    mapping: dict[str, tuple[str, int]] = {}
    for sub in spec.subscriptions:
        topic = catalog.topic(sub.topic)
        for event_type in topic.types:
            if event_type in mapping:
                raise ConfigError(
                    f"{function} subscribes to {mapping[event_type][0]} and {topic.name}, which both carry"
                    f" {event_type}: an archived event's topic would be ambiguous"
                )
            mapping[event_type] = (topic.name, topic.partitions)
    return mapping


def stage_event(conn: psycopg.Connection, function: str, env: Envelope[Any]) -> bool:
    """Stage ``env`` under the topic it came from; False when it was staged before."""
    found = topics_by_type(function).get(env.meta.type)
    if found is None:  # the runtime already refuses types of other topics; a guard, not a path
        raise UnexpectedEventType(f"{function} archives no topic carrying {env.meta.type}")
    topic, partitions = found
    return staging.stage(conn, topic, partitions, env)
