"""No bypass: the executor refuses an entry on a LIVE or SHADOW account that the risk guardian
did not approve, before anything is sent; what reduces risk passes without an approval."""

from __future__ import annotations

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
