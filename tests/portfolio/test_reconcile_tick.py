"""The reconciler's tick reads every LIVE account's venue positions best effort: an account that
cannot be read (its venue does not answer, its keys do not open) is skipped with a warning that
says what to do, and the others are still reconciled and adopted from in the same tick."""

from __future__ import annotations

import logging
from decimal import Decimal

import psycopg
from kairos.execution import accounts
from kairos.execution.vault import Credentials, KeyVault, generate_kek
from kairos.localinfra.ports import free_port
from kairos_testkit.execution import KEK
from kairos_testkit.protection_system import system
from prometheus_client import REGISTRY


def _register(database_url: str, name: str, base_url: str, kek: str) -> None:
    vault = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": kek})
    with psycopg.connect(database_url, autocommit=True) as conn:
        accounts.register(conn, vault, name, venue="binanceusdm", mode="live", base_url=base_url,
                          creds=Credentials("key", "secret"))


def _errors(kind: str) -> float:
    return REGISTRY.get_sample_value("kairos_reconciliation_errors_total", {"kind": kind}) or 0.0


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_accounts_that_cannot_be_read_do_not_stop_the_others(database_url, kafka_bootstrap, sim) -> None:
    seen = _Records()
    logging.getLogger("kairos.portfolio.reconcile_tick").addHandler(seen)
    errors_before = {k: _errors(k) for k in ("venue_unavailable", "keys_unavailable")}
    with system(database_url, kafka_bootstrap, sim) as s:
        _register(database_url, "acct-down", f"http://127.0.0.1:{free_port()}", KEK)  # nothing listens
        _register(database_url, "acct-sealed", sim.base_url, generate_kek("k1"))  # not the KEK we hold
        sim.ccxt().create_order("BTC/USDT:USDT", "market", "buy", 0.01)  # by hand, on the readable account
        try:
            s.tick("reconciler")
        finally:
            logging.getLogger("kairos.portfolio.reconcile_tick").removeHandler(seen)
        s.pump()
        (pos,) = s.positions()
        assert pos["managed"] is False and Decimal(pos["quantity"]) == Decimal("0.01")
        skipped = {r.account: r.getMessage() for r in seen.records}  # type: ignore[attr-defined]
        assert set(skipped) == {"acct-down", "acct-sealed"}
        assert "the venue did not answer" in skipped["acct-down"]
        assert "keys cannot be opened" in skipped["acct-sealed"]
        # ...and each is counted in kairos_reconciliation_errors_total (the dashboard, the alert rule)
        assert {k: _errors(k) - v for k, v in errors_before.items()} == {"venue_unavailable": 1, "keys_unavailable": 1}
