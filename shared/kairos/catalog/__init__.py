"""The wiring catalog: topics, functions, subscriptions, crons and sources in one file."""

from kairos.catalog.model import (
    Catalog,
    Cron,
    DeliveryPolicy,
    Function,
    Source,
    Subscription,
    Topic,
    load_catalog,
)

__all__ = ["Catalog", "Cron", "DeliveryPolicy", "Function", "Source", "Subscription", "Topic", "load_catalog"]
