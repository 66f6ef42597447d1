"""The execution service under test: a migrated database with a LIVE
account whose keys are sealed, commands, and readers of the venue's and the DB's truth."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import Envelope, new_event
from kairos.execution import accounts
from kairos.execution.vault import Credentials, KeyVault, generate_kek
from kairos.execution.wiring import ExecutionRuntime
from kairos.runtime.db import migrate
from kairos.runtime.recorder import OutboxRow

from kairos_testkit import risk

SYMBOL = "BTC/USDT:USDT"
VENUE_SYMBOL = "BTCUSDT"
ACCOUNT = "acct-live"
# The simulator account the execution tests trade on (its keys are sealed into the LIVE account).
API_KEY, SECRET = "kx-test-api-key-7Qe9", "kx-test-secret-Zr4mW2pL0vXs"
KEK = generate_kek("k1")


def exec_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "KAIROS_EXCHANGE_KEK": KEK,
        "KAIROS_EXEC_VENUE_TIMEOUT_MS": "1000",
        "KAIROS_EXEC_RESEND_GRACE_S": "1.5",
        "KAIROS_EXEC_DB_POOL_SIZE": "12",
    }
    env.update(extra)
    return env


# The database of the last account set up: ``command()`` records the risk guardian's approval
# of an entry there (kairos_testkit.risk), as the guardian would before the executor sees it.
_approvals_db: str | None = None


def setup_account(database_url: str, sim: Any, account: str = ACCOUNT, mode: str = "live") -> None:
    global _approvals_db
    migrate(database_url)
    _approvals_db = database_url
    vault = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": KEK})
    with psycopg.connect(database_url, autocommit=True) as conn:
        accounts.register(conn, vault, account, venue="binanceusdm", mode=mode, base_url=sim.base_url,
                          creds=Credentials(sim.api_key, sim.secret))  # fmt: skip


@contextmanager
def runtime(database_url: str, function: str = "executor", **extra: str) -> Iterator[ExecutionRuntime]:
    rt = ExecutionRuntime.from_env(exec_env(database_url, **extra), function)
    try:
        yield rt
    finally:
        rt.close()


def command(
    *,
    order_type: str = "market",
    side: str = "buy",
    quantity: str = "0.010",
    command_id: str | None = None,
    account: str = ACCOUNT,
    symbol: str = SYMBOL,
    approved: bool = True,
    **fields: Any,
) -> Envelope[ExecuteTrade]:
    """A trade command; an entry is approved in the last set-up database unless ``approved=False``."""
    cmd = ExecuteTrade(
        command_id=command_id or f"cmd-{uuid.uuid4().hex[:16]}", account=account, venue="binanceusdm",
        symbol=symbol, side=side, order_type=order_type, quantity=Decimal(quantity), strategy_id="s-test",  # type: ignore[arg-type]
        **fields,
    )  # fmt: skip
    if approved and _approvals_db is not None and risk.needs_approval(cmd):
        risk.approve(_approvals_db, cmd)
    return new_event(cmd, source="/tests/execution", partition_key=f"{account}|{symbol}")


def db_order(database_url: str, command_id: str) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        cur = conn.execute(
            "SELECT o.state, o.client_order_id, o.venue_order_id, o.reason, coalesce(t.filled_quantity, 0),"
            " t.average_price, o.seq FROM orders o LEFT JOIN order_fill_totals t ON t.order_id = o.id"
            " WHERE o.command_id = %s",
            (command_id,),
        )
        r = cur.fetchone()
    assert r is not None, f"no order for {command_id}"
    return {"state": r[0], "cid": r[1], "venue_id": r[2], "reason": r[3], "filled": Decimal(r[4]),
            "avg": r[5], "seq": r[6]}  # fmt: skip


def venue_orders_by_cid(sim: Any) -> dict[str, list[dict[str, Any]]]:
    """Every plain and algo order at the venue, grouped by client id (venue truth)."""
    truth = sim.control.orders()
    out: dict[str, list[dict[str, Any]]] = {}
    for o in truth["orders"]:
        if o["client_order_id"]:
            out.setdefault(o["client_order_id"], []).append(o)
    for a in truth["algo_orders"]:
        out.setdefault(a["client_algo_id"], []).append(a)
    return out


def drive(rt: ExecutionRuntime, env: Envelope[Any], timeout: float = 30.0) -> list[OutboxRow]:
    """Call the service like a delivery would: again after every transient failure; returns the
    outbox rows the command produced."""
    import time

    from kairos.errors import TransientError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return rt.service.execute(env.data, env)
        except TransientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def deliver(fn: Any, env: Envelope[Any], timeout: float = 30.0) -> int:
    """Deliver like KafkaSource: the same CloudEvent again after every 5xx; returns the final status."""
    import time

    from kairos.contracts.codec import to_cloudevent

    deadline = time.monotonic() + timeout
    while True:
        outcome = fn.process(to_cloudevent(env))
        if outcome.status < 500 or time.monotonic() > deadline:
            return int(outcome.status)
        time.sleep(0.2)


def outbox_counts(database_url: str, event_type: str) -> tuple[int, int]:
    """(rows, distinct event ids) of one type in the outbox."""
    with psycopg.connect(database_url) as conn:
        r = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM outbox WHERE event_type = %s", (event_type,)
        ).fetchone()
    assert r is not None
    return int(r[0]), int(r[1])
