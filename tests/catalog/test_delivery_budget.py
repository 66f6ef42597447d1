"""Every subscription's retry budget outlasts a database failover and a function restart,
so a transient failure is retried, not dead-lettered (CloudNativePG fails over in tens of
seconds; a function restarts in a few)."""

from __future__ import annotations

from kairos.catalog import load_catalog
from kairos.catalog.model import DeliveryPolicy

FAILOVER_SECONDS = 45.0


def waited(policy: DeliveryPolicy) -> float:
    return sum(policy.backoff_seconds(n) for n in range(1, policy.retry + 1))


def test_the_default_budget_outlasts_a_failover():
    assert waited(load_catalog().defaults.delivery) >= FAILOVER_SECONDS


def test_every_subscription_budget_outlasts_a_failover():
    catalog = load_catalog()
    short = {
        f"{fn.name}<-{sub.topic}": round(waited(catalog.delivery_for(sub)), 1)
        for fn in catalog.functions
        for sub in fn.subscriptions
        if waited(catalog.delivery_for(sub)) < FAILOVER_SECONDS
    }
    assert not short
