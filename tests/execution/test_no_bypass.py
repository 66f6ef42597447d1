"""No bypass: the executor refuses an entry on a LIVE or SHADOW account that the risk guardian
did not approve, before anything is sent; what reduces risk passes without an approval."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kairos.contracts.commands import AmendOrder
from kairos.execution.approvals import REASON
from kairos_testkit.execution import command, db_order, drive, runtime, setup_account, venue_orders_by_cid


def test_an_entry_without_approval_is_refused_and_never_sent(database_url, sim):
    setup_account(database_url, sim)
    setup_account(database_url, sim, account="acct-shadow", mode="shadow")
    with runtime(database_url) as rt:
        for account in ("acct-live", "acct-shadow"):
            env = command(account=account, approved=False)
            drive(rt, env)
            o = db_order(database_url, env.data.command_id)
            assert o["state"] == "REJECTED" and o["reason"].startswith(REASON), o
            assert o["cid"] not in venue_orders_by_cid(sim)
        approved = command()  # the same entry with the guardian's approval (kairos_testkit.risk)
        drive(rt, approved)
        assert db_order(database_url, approved.data.command_id)["state"] == "FILLED"


def test_reduce_only_and_exit_orders_need_no_approval(database_url, sim):
    setup_account(database_url, sim)
    with runtime(database_url) as rt:
        drive(rt, command(quantity="0.010"))  # an approved long to reduce
        exit_ = command(side="sell", quantity="0.004", intent="exit", reduce_only=True, approved=False)
        drive(rt, exit_)
        assert db_order(database_url, exit_.data.command_id)["state"] == "FILLED"
        protective = command(side="sell", quantity="0.006", intent="protective", reduce_only=True, approved=False)
        drive(rt, protective)
        assert db_order(database_url, protective.data.command_id)["state"] == "FILLED"


def _amend(target, command_id: str, quantity: str) -> Any:
    return AmendOrder(command_id=command_id, target_command_id=target.data.command_id, account=target.data.account,
                      venue=target.data.venue, symbol=target.data.symbol, strategy_id="s-test",
                      quantity=Decimal(quantity))  # fmt: skip


def test_an_amend_may_not_enlarge_an_approved_entry(database_url, sim):
    """The replacement carries the approval of the order it replaces, for no more than was
    approved: a larger entry is a new intent for the guardian, never an amend."""
    setup_account(database_url, sim)
    with runtime(database_url) as rt:
        entry = command(order_type="limit", limit_price=Decimal("59000"), quantity="0.010")  # rests below the market
        drive(rt, entry)
        rt.service.amend(_amend(entry, "amend-more-0001", "0.020"), command())
        bigger = db_order(database_url, "amend-more-0001")
        assert bigger["state"] == "REJECTED" and bigger["reason"].startswith(REASON), bigger
        assert "more than the 0.010" in bigger["reason"] and bigger["cid"] not in venue_orders_by_cid(sim)
        assert db_order(database_url, entry.data.command_id)["state"] == "OPEN"  # the refused amend left it

        again = command(order_type="limit", limit_price=Decimal("59000"), quantity="0.010")
        drive(rt, again)
        rt.service.amend(_amend(again, "amend-less-0001", "0.006"), command())
        smaller = db_order(database_url, "amend-less-0001")
        assert smaller["state"] == "OPEN" and len(venue_orders_by_cid(sim)[smaller["cid"]]) == 1
