"""Build the execution service from the environment (executor and reconciler share it).

| variable | default | meaning |
|---|---|---|
| ``DATABASE_URL`` | required | the Kairos database |
| ``KAIROS_EXCHANGE_KEK`` (+ ``_PREVIOUS``) | unset | key-encryption key; without it LIVE accounts cannot be opened |
| ``KAIROS_EXEC_DB_POOL_SIZE`` | 20 | connections of the order pool (separate from the inbox pool: no pool deadlock) |
| ``KAIROS_EXEC_VENUE_TIMEOUT_MS`` | 3000 | ccxt timeout per venue request |
| ``KAIROS_EXEC_RESEND_GRACE_S`` | 6 | wait after an unanswered send before "not found" allows a re-send |
| ``KAIROS_CLOCK_MAX_OFFSET_MS`` | 5000 | venue clock offset above which entries are refused |
| ``KAIROS_RECONCILE_LOST_MISSES`` / ``_LOST_GRACE_S`` | 3 / 120 | when an order the venue never had is lost |
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from kairos.errors import ConfigError
from kairos.execution import client_ids
from kairos.execution import repository as repo
from kairos.execution.accounts import Account, AccountBook
from kairos.execution.reconcile import OrderReconciler, ReconcileSettings
from kairos.execution.service import ExecutionService, ServiceSettings
from kairos.execution.shadow import ShadowAdapter
from kairos.execution.vault import KEK_ENV, KeyVault
from kairos.runtime.config import integer, require
from kairos.venues import registry
from kairos.venues.port import Credentials, VenueAdapter
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


def open_order_pool(url: str, size: int, name: str) -> ConnectionPool:
    """Autocommit connections: every ``conn.transaction()`` block commits when it ends,
    which is what "the order row is committed before the venue is called" needs."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        name=name,
        open=True,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, "application_name": name},
    )


@dataclass
class ExecutionRuntime:
    pool: ConnectionPool
    book: AccountBook
    service: ExecutionService
    reconciler: OrderReconciler

    @classmethod
    def from_env(cls, env: Mapping[str, str], function: str) -> ExecutionRuntime:
        """Raises ConfigError naming a malformed variable."""
        url = require(env, "DATABASE_URL", "a postgresql:// URL of the Kairos database")
        pool = open_order_pool(url, integer(env, "KAIROS_EXEC_DB_POOL_SIZE", 20, minimum=2), f"{function}-orders")
        vault: KeyVault | None = None
        if env.get(KEK_ENV, "").strip():
            vault = KeyVault.from_env(env)
        else:
            log.warning("no key-encryption key: LIVE accounts cannot be used", extra={"variable": KEK_ENV})
        timeout_ms = integer(env, "KAIROS_EXEC_VENUE_TIMEOUT_MS", 3000, minimum=100)
        book = AccountBook(pool, vault, adapter_factory(pool, timeout_ms))
        try:
            grace = float(env.get("KAIROS_EXEC_RESEND_GRACE_S", "6"))
            lost_grace = float(env.get("KAIROS_RECONCILE_LOST_GRACE_S", "120"))
        except ValueError as exc:
            raise ConfigError(
                f"KAIROS_EXEC_RESEND_GRACE_S / KAIROS_RECONCILE_LOST_GRACE_S must be numbers: {exc}"
            ) from None
        settings = ServiceSettings(
            actor=function,
            resend_grace_s=grace,
            clock_block_ms=Decimal(integer(env, "KAIROS_CLOCK_MAX_OFFSET_MS", 5000, minimum=1)),
        )
        service = ExecutionService(pool, book, repo.Emitter(function), settings)
        reconciler = OrderReconciler(
            service,
            ReconcileSettings(
                lost_after_misses=integer(env, "KAIROS_RECONCILE_LOST_MISSES", 3, minimum=1), lost_grace_s=lost_grace
            ),
        )
        return cls(pool, book, service, reconciler)

    def close(self) -> None:
        self.book.close()
        self.pool.close()


def adapter_factory(
    pool: ConnectionPool, timeout_ms: int
) -> Callable[[Account, Callable[[], Credentials]], VenueAdapter]:
    """Adapters come from the account's venue package: LIVE is the venue's own adapter, SHADOW
    the one local fill model over the venue's market specs and public last prices."""

    def build(acct: Account, creds: Callable[[], Credentials]) -> VenueAdapter:
        venue = registry.definition(acct.venue)
        if venue.capabilities.client_id_max_length < client_ids.MAX_LENGTH:
            raise registry.UnknownVenue(
                f"venue {venue.name} accepts client order ids of at most {venue.capabilities.client_id_max_length}"
                f" characters, Kairos sends {client_ids.MAX_LENGTH}: it needs its own id scheme (docs/VENUES.md)"
            )
        if acct.mode == "live":
            return venue.live(acct.base_url, creds(), timeout_ms)
        return ShadowAdapter(pool, acct.account, venue.public(acct.base_url, None).last_price, venue)

    return build
