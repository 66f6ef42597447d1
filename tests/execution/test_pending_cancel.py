"""Cancels and amends whose venue outcome is pending are acknowledged once their intent is
durable (a cancel request; an amend's replacement in NEW) and finished by the executor's
pending-outcome resolver: the outcome is published once, and neither a redelivery nor the
resolver sends a second cancel or a second replacement inside the venue's receive window."""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg
from kairos.contracts.commands import AmendOrder, CancelOrder
from kairos.execution import repository as repo
from kairos.execution.client_ids import client_order_id
from kairos.execution.pending import PendingResolver
from kairos.execution.service import OutcomePending, _replacement
from kairos.runtime.recorder import OutboxRow
from kairos_testkit.execution import command, db_order, drive, venue_orders_by_cid

LOOKUPS_FAIL = {"kind": "http_error", "endpoint": "GET /fapi/v1/order", "status": 503}
CANCEL_REPLY_LOST = {"kind": "lost_response", "endpoint": "DELETE /fapi/v1/order", "count": 1, "hold_ms": 2500}


def _resting(rt, database_url: str):
    c = command(order_type="limit", limit_price=Decimal("59000"))
    drive(rt, c)
    assert db_order(database_url, c.data.command_id)["state"] == "OPEN"
    return c


def _cancel(target, command_id: str = "cancel-p-0001") -> CancelOrder:
    d = target.data
    return CancelOrder(
        command_id=command_id,
        target_command_id=d.command_id,
        account=d.account,
        venue=d.venue,
        symbol=d.symbol,
        strategy_id="s-test",
        reason="test",
    )


def _amend(target, command_id: str = "amend-p-0001", **fields) -> AmendOrder:
    d = target.data
    return AmendOrder(
        command_id=command_id,
        target_command_id=d.command_id,
        account=d.account,
        venue=d.venue,
        symbol=d.symbol,
        strategy_id="s-test",
        **fields,
    )


def _calls(sim, method: str) -> list[dict]:
    return [r for r in sim.control.audit() if r["path"] == "/fapi/v1/order" and r["method"] == method]


def _resolver(rt) -> tuple[PendingResolver, list[OutboxRow]]:
    published: list[OutboxRow] = []
    return PendingResolver(rt.service, published.extend, min_age_s=0), published


def _events(database_url: str, command_id: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT e.to_state FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.command_id = %s"
            " ORDER BY e.seq",
            (command_id,),
        ).fetchall()
    return [r[0] for r in rows]


def _outbox(database_url: str, subject_cid: str, to_state: str) -> tuple[int, int]:
    """(rows, distinct event ids) of the order's exec.order_event into ``to_state``."""
    with psycopg.connect(database_url) as conn:
        r = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM outbox WHERE event_type = 'kairos.exec.order_event'"
            " AND convert_from(value, 'UTF8')::jsonb ->> 'client_order_id' = %s"
            " AND convert_from(value, 'UTF8')::jsonb ->> 'to_state' = %s",
            (subject_cid, to_state),
        ).fetchone()
    assert r is not None
    return int(r[0]), int(r[1])


def test_a_cancel_with_a_lost_reply_is_acknowledged_and_resolved_with_one_cancel_at_the_venue(rt, sim, database_url):
    target = _resting(rt, database_url)
    cid = db_order(database_url, target.data.command_id)["cid"]
    sim.control.set_faults([CANCEL_REPLY_LOST, LOOKUPS_FAIL])
    cancel = _cancel(target)
    assert rt.service.cancel(cancel) == []  # no exception: acknowledged, the request is durable
    assert db_order(database_url, target.data.command_id)["state"] == "CANCELING"
    for _ in range(2):  # redeliveries ask the venue first (which cannot answer): nothing is re-sent
        rt.service.cancel(cancel)
    resolver, published = _resolver(rt)
    resolver.resolve_once()  # lookups still failing: nothing decided, nothing sent
    assert db_order(database_url, target.data.command_id)["state"] == "CANCELING"
    sim.control.clear_faults()
    assert resolver.resolve_once() == 1
    assert db_order(database_url, target.data.command_id)["state"] == "CANCELED"
    assert len(_calls(sim, "DELETE")) == 1  # the venue executed the one cancel it was sent
    assert venue_orders_by_cid(sim)[cid][0]["status"] == "CANCELED"
    assert _events(database_url, target.data.command_id) == ["SUBMITTED", "OPEN", "CANCELING", "CANCELED"]
    assert _outbox(database_url, cid, "CANCELED") == (1, 1)  # the outcome published exactly once
    rt.service.cancel(cancel)  # a late redelivery of a settled cancel changes nothing
    assert _outbox(database_url, cid, "CANCELED") == (1, 1)
    assert any(r.event_id for r in published)


def test_a_cancel_that_never_reached_the_venue_is_sent_again_only_after_the_receive_window(rt, sim, database_url):
    target = _resting(rt, database_url)
    sim.control.set_faults([{"kind": "http_error", "endpoint": "DELETE /fapi/v1/order", "status": 503, "count": 1}])
    cancel = _cancel(target)
    rt.service.cancel(cancel)  # 503: may have been executed; the lookup shows it open
    rt.service.cancel(cancel)  # a redelivery inside the window sends nothing
    resolver, _published = _resolver(rt)
    resolver.resolve_once()
    assert len(_calls(sim, "DELETE")) == 1
    assert db_order(database_url, target.data.command_id)["state"] == "CANCELING"
    time.sleep(rt.service.settings.resend_grace_s + 0.2)  # the first cancel can no longer execute
    assert resolver.resolve_once() == 1
    assert db_order(database_url, target.data.command_id)["state"] == "CANCELED"
    assert [r["status"] for r in _calls(sim, "DELETE")] == [503, 200]


def test_a_cancel_of_an_order_of_unknown_outcome_never_re_sends_the_order(rt, sim, database_url):
    """The venue never got the order: once the window passed it is REJECTED, not re-sent."""
    c = command(order_type="limit", limit_price=Decimal("59000"))
    sim.control.set_faults([{"kind": "http_error", "endpoint": "POST /fapi/v1/order", "status": 503, "count": 1}])
    try:
        rt.service.execute(c.data, c)
    except OutcomePending:
        pass
    assert db_order(database_url, c.data.command_id)["state"] == "UNKNOWN"
    rt.service.cancel(_cancel(c))  # acknowledged: the submission is unresolved
    time.sleep(rt.service.settings.resend_grace_s + 0.2)
    resolver, _published = _resolver(rt)
    resolver.resolve_once()
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "REJECTED" and o["reason"].startswith("canceled before the venue had it")
    assert len(_calls(sim, "POST")) == 1  # its one attempt, never repeated
    assert o["cid"] not in venue_orders_by_cid(sim)
    assert not _calls(sim, "DELETE")


def test_a_cancel_of_an_order_whose_reply_was_lost_cancels_it_once_found(rt, sim, database_url):
    c = command(order_type="limit", limit_price=Decimal("59000"))
    sim.control.set_faults(
        [{"kind": "lost_response", "endpoint": "POST /fapi/v1/order", "count": 1, "hold_ms": 2500}, LOOKUPS_FAIL]
    )
    try:
        rt.service.execute(c.data, c)
    except OutcomePending:
        pass
    rt.service.cancel(_cancel(c))
    sim.control.clear_faults()
    resolver, _published = _resolver(rt)
    resolver.resolve_once()
    o = db_order(database_url, c.data.command_id)
    assert o["state"] == "CANCELED"
    assert len(venue_orders_by_cid(sim)[o["cid"]]) == 1 and len(_calls(sim, "DELETE")) == 1


def test_an_amend_with_a_pending_cancel_places_one_replacement_once_the_target_is_canceled(rt, sim, database_url):
    target = _resting(rt, database_url)
    sim.control.set_faults([CANCEL_REPLY_LOST, LOOKUPS_FAIL])
    amend = _amend(target, limit_price=Decimal("59500"))
    assert rt.service.amend(amend, target) == []  # acknowledged
    rt.service.amend(amend, target)  # redelivered: no second cancel, no replacement yet
    replacement = db_order(database_url, amend.command_id)
    assert replacement["state"] == "NEW" and replacement["cid"] not in venue_orders_by_cid(sim)
    resolver, _published = _resolver(rt)
    resolver.resolve_once()  # the target cannot be confirmed: the replacement keeps waiting
    assert db_order(database_url, amend.command_id)["state"] == "NEW"
    sim.control.clear_faults()
    resolver.resolve_once()
    assert db_order(database_url, target.data.command_id)["state"] == "CANCELED"
    new = db_order(database_url, amend.command_id)
    assert new["state"] == "OPEN"
    venue = venue_orders_by_cid(sim)[new["cid"]]
    assert len(venue) == 1 and Decimal(venue[0]["price"]) == Decimal("59500")
    assert Decimal(venue[0]["qty"]) == Decimal("0.010")  # the remaining quantity of the target
    assert len(_calls(sim, "DELETE")) == 1
    rt.service.amend(amend, target)  # a late redelivery: nothing more at the venue
    resolver.resolve_once()
    assert len(venue_orders_by_cid(sim)[new["cid"]]) == 1 and len(_calls(sim, "DELETE")) == 1


def test_an_amend_of_a_target_that_filled_while_its_cancel_was_pending_replaces_nothing(rt, sim, database_url):
    target = _resting(rt, database_url)
    sim.control.set_faults([{"kind": "http_error", "endpoint": "DELETE /fapi/v1/order", "status": 503}])
    amend = _amend(target, limit_price=Decimal("59500"))
    rt.service.amend(amend, target)
    sim.control.set_price("BTCUSDT", "58500")  # the resting buy at 59000 fills before any cancel lands
    time.sleep(0.5)
    resolver, _published = _resolver(rt)
    resolver.resolve_once()
    sim.control.clear_faults()
    assert db_order(database_url, target.data.command_id)["state"] == "FILLED"
    new = db_order(database_url, amend.command_id)
    assert new["state"] == "REJECTED" and new["reason"].startswith("AMEND_TARGET_FILLED")
    assert new["cid"] not in venue_orders_by_cid(sim)


def test_an_amend_interrupted_right_after_its_intent_was_committed_is_finished_once(rt, sim, database_url):
    """What a crash right after the amend's first commit leaves (the replacement in NEW, the
    target's cancel request, nothing sent) is finished by the resolver: one cancel, one
    replacement, whichever of the resolver and a redelivery comes first."""
    target = _resting(rt, database_url)
    amend = _amend(target, limit_price=Decimal("59500"))
    with rt.pool.connection() as conn, conn.transaction():
        t = repo.by_command(conn, target.data.command_id)
        assert t is not None
        repo.insert_order_once(conn, _replacement(amend, t), target, client_order_id=client_order_id(amend.command_id),
                               mode="live", replaces=t.command_id, remaining_of_target=True)  # fmt: skip
        repo.request_cancel(conn, t.id, amend.command_id, f"amended by {amend.command_id}")
    resolver, _published = _resolver(rt)
    resolver.resolve_once()  # the restarted executor's resolver, before any redelivery
    assert db_order(database_url, target.data.command_id)["state"] == "CANCELED"
    assert db_order(database_url, amend.command_id)["state"] == "OPEN"
    rt.service.amend(amend, target)  # the redelivery after the restart: nothing left to do
    resolver.resolve_once()
    new = db_order(database_url, amend.command_id)
    assert new["state"] == "OPEN" and len(venue_orders_by_cid(sim)[new["cid"]]) == 1
    assert len(_calls(sim, "DELETE")) == 1
