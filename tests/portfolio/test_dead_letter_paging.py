"""A protection command or event the delivery dead-lettered pages: slo-monitor reads the
protection path's dead-letter topics and raises a critical alert naming the position; a
dead-lettered entry (not protection work) is not paged. The protection path's subscriptions
retry for longer than a function restart."""

from __future__ import annotations

from kairos.catalog import load_catalog
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import new_event
from kairos.contracts.ops import PingTick
from kairos.delivery.dispatch import DispatchResult
from kairos.delivery.kafka_source import dead_letter_event
from kairos.portfolio.projection import sync_command
from kairos_testkit.execution import command
from kairos_testkit.protection_system import system


def _dead(env, status: int = 503):
    return dead_letter_event(to_cloudevent(env), DispatchResult(False, status, b"not ready", 21), "http://sink")


def _pages(s) -> list[dict]:
    return [a for a in s.outbox("kairos.ops.alert") if a["code"] == "PROTECTION_DEAD_LETTER"]


def test_a_dead_lettered_protection_command_pages_naming_the_position(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter()
        s.settle()
        (pos,) = s.positions()
        cause = new_event(PingTick(job="t"), source="/tests", partition_key="t")
        s.deliver("slo-monitor", _dead(sync_command(cause, pos["position_id"], "/tests", "fill")))
        (page,) = _pages(s)
        assert page["severity"] == "critical" and page["details"]["position_id"] == pos["position_id"]
        assert page["details"]["status"] == "503" and pos["position_id"] in page["message"]

        s.deliver("slo-monitor", _dead(command()))  # an entry the executor gave up on: not protection work
        assert len(_pages(s)) == 1

        protective = command(side="sell", reduce_only=True, intent="protective",
                             client_tag=f"{pos['position_id']}:SL:0")
        s.deliver("slo-monitor", _dead(protective))
        assert [p["details"]["position_id"] for p in _pages(s)] == [pos["position_id"]] * 2


def test_protection_path_retries_longer_than_a_restart():
    catalog = load_catalog()
    subs = [sub for name in ("portfolio", "position-sync", "executor") for sub in catalog.function(name).subscriptions]
    for sub in subs:
        policy = catalog.delivery_for(sub)
        budget = sum(policy.backoff_seconds(i) for i in range(1, policy.retry + 1))
        assert budget >= 60, (sub.topic, budget)
    sync = catalog.function("position-sync").subscriptions[0].delivery
    assert sync is not None
    gaps = [sync.backoff_seconds(i) for i in range(1, sync.retry + 1)]
    assert max(g for i, g in enumerate(gaps) if sum(gaps[:i]) < 10) <= 3  # a restarted consumer is reached soon
