"""Rate limits (429 / 418 + Retry-After) are backed off, never turned into a lost command."""

from __future__ import annotations

import time

from kairos.errors import TransientError
from kairos_testkit.execution import command, db_order, drive, venue_orders_by_cid


def test_429_with_retry_after_is_waited_out_inside_the_call(rt, sim, database_url):
    sim.control.set_faults(
        [{"kind": "rate_limit", "endpoint": "POST /fapi/v1/order", "count": 2, "retry_after_s": 0.5}]
    )
    c = command()
    started = time.monotonic()
    rt.service.execute(c.data, c)
    assert time.monotonic() - started >= 1.0  # two Retry-After waits
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "FILLED" and len(venue_orders_by_cid(sim)[o["cid"]]) == 1


def test_a_ban_longer_than_the_backoff_budget_is_a_transient_failure_then_the_command_completes(rt, sim, database_url):
    sim.control.set_faults([{"kind": "ban", "endpoint": "POST /fapi/v1/order", "count": 1, "retry_after_s": 30}])
    c = command()
    try:
        rt.service.execute(c.data, c)
        raise AssertionError("a ban must not pass silently")
    except TransientError as exc:  # 5xx to the delivery: retried, never dead-lettered as a rejection
        assert "rate limit" in str(exc)
    assert db_order(database_url, c.data.command_id)["state"] == "SUBMITTED"  # not failed, not lost
    drive(rt, c)  # the redelivery asks the venue first, finds nothing, re-sends after the window
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "FILLED" and len(venue_orders_by_cid(sim)[o["cid"]]) == 1
