"""The wiring catalog is consistent, and a broken one is reported precisely."""

from __future__ import annotations

import pytest
from kairos.catalog.model import Catalog, DeliveryPolicy, duration_seconds, load_catalog


def test_repository_catalog_is_consistent():
    assert load_catalog().consistency_errors() == []


def test_every_function_has_a_project_directory():
    from kairos.runtime.loader import FUNCTIONS_DIR

    for fn in load_catalog().functions:
        assert (FUNCTIONS_DIR / fn.name / "function" / "func.py").is_file(), fn.name


def _broken(mutate) -> list[str]:
    raw = load_catalog().model_dump()
    mutate(raw)
    return Catalog.model_validate(raw).consistency_errors()


def test_subscription_to_undeclared_topic_is_reported():
    errors = _broken(lambda c: c["functions"][0]["subscriptions"][0].update(topic="raw.nowhere"))
    assert any("undeclared topic raw.nowhere" in e for e in errors)


def test_missing_dead_letter_topic_is_reported():
    errors = _broken(lambda c: c["functions"][0].update(dead_letter_topic=None))
    assert any("no dead_letter_topic" in e for e in errors)


def test_orphaned_topic_is_reported():
    def add(c):
        c["topics"].append(dict(c["topics"][0], name="raw.orphan"))

    assert any("raw.orphan is orphaned" in e for e in _broken(add))


def test_output_to_undeclared_topic_is_reported():
    errors = _broken(lambda c: c["functions"][0].update(publishes=["norm.ghost"]))
    assert any("undeclared topic norm.ghost" in e for e in errors)


@pytest.mark.parametrize(("text", "seconds"), [("PT0.2S", 0.2), ("PT10S", 10), ("P7D", 604800), ("PT1H30M", 5400)])
def test_iso_durations(text, seconds):
    assert duration_seconds(text) == pytest.approx(seconds)


def test_backoff_follows_knative_formulas():
    policy = DeliveryPolicy(retry=3, backoff_policy="exponential", backoff_delay="PT0.2S", timeout="PT10S")
    assert [policy.backoff_seconds(n) for n in (1, 2, 3)] == pytest.approx([0.2, 0.4, 0.8])
