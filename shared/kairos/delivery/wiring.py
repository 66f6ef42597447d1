"""Build every delivery of the catalog, given where each function listens."""

from __future__ import annotations

from collections.abc import Mapping

from kairos.catalog import Catalog
from kairos.delivery.kafka_source import KafkaSourceSpec
from kairos.delivery.ping_source import PingSourceSpec


def kafka_source_specs(
    catalog: Catalog, sinks: Mapping[str, str], only: set[str] | None = None
) -> list[KafkaSourceSpec]:
    specs = []
    for fn in catalog.functions:
        if fn.name not in sinks or (only and fn.name not in only):
            continue
        for sub in fn.subscriptions:
            specs.append(
                KafkaSourceSpec(
                    name=f"{fn.name}--{sub.topic.replace('.', '-').replace('_', '-')}",
                    topic=sub.topic,
                    consumer_group=sub.consumer_group,
                    sink_url=sinks[fn.name],
                    policy=catalog.delivery_for(sub),
                    ordering=sub.ordering,
                    dead_letter_topic=fn.dead_letter_topic,
                    namespace=catalog.namespace,
                )
            )
    return specs


def ping_source_specs(catalog: Catalog, sinks: Mapping[str, str], only: set[str] | None = None) -> list[PingSourceSpec]:
    return [
        PingSourceSpec(
            name=cron.name,
            schedule=cron.schedule,
            timezone=cron.timezone,
            sink_url=sinks[fn.name],
            data=cron.data,
            namespace=catalog.namespace,
        )
        for fn in catalog.functions
        if fn.name in sinks and not (only and fn.name not in only)
        for cron in fn.crons
    ]
