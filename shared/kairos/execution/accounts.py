"""Venue accounts: which adapter (LIVE or SHADOW) serves an account, and its sealed keys.

Only this module opens keys (through ``KeyVault``), and only the executor and the
reconciler construct an ``AccountBook`` with a vault; the clock guard reads the public
server time and needs no keys. Adapters are built once per account and process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from kairos.errors import PermanentError
from kairos.execution.vault import Credentials, KeyVault
from kairos.venues.port import VenueAdapter
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


class UnknownAccount(PermanentError):
    code = "unknown_account"
    http_status = 422


@dataclass(frozen=True)
class Account:
    account: str
    venue: str
    mode: str  # live | shadow
    base_url: str | None


def register(
    conn: psycopg.Connection,
    vault: KeyVault,
    account: str,
    *,
    venue: str,
    mode: str,
    base_url: str | None,
    creds: Credentials | None,
) -> None:
    """Create or replace an account; its credentials are sealed before they touch the DB."""
    key_id, blob = vault.seal(account, creds) if creds is not None else (None, None)
    conn.execute(
        "INSERT INTO exec_accounts (account, venue, mode, base_url, key_id, key_ciphertext) VALUES (%s,%s,%s,%s,%s,%s)"
        " ON CONFLICT (account) DO UPDATE SET venue = EXCLUDED.venue, mode = EXCLUDED.mode,"
        " base_url = EXCLUDED.base_url, key_id = EXCLUDED.key_id, key_ciphertext = EXCLUDED.key_ciphertext,"
        " updated_at = now()",
        (account, venue, mode, base_url, key_id, blob),
    )
    log.info("account registered", extra={"account": account, "mode": mode, "venue": venue})


def load(conn: psycopg.Connection, account: str) -> Account | None:
    r = conn.execute(
        "SELECT account, venue, mode, base_url FROM exec_accounts WHERE account = %s", (account,)
    ).fetchone()
    return Account(*r) if r else None


def all_accounts(conn: psycopg.Connection) -> list[Account]:
    rows = conn.execute("SELECT account, venue, mode, base_url FROM exec_accounts ORDER BY account").fetchall()
    return [Account(*r) for r in rows]


AdapterFactory = Callable[[Account, Callable[[], Credentials]], VenueAdapter]


class AccountBook:
    """Accounts and their adapters, built lazily and cached for the process's life."""

    def __init__(self, pool: ConnectionPool, vault: KeyVault | None, factory: AdapterFactory) -> None:
        self._pool = pool
        self._vault = vault
        self._factory = factory
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Account, VenueAdapter]] = {}

    def get(self, account: str) -> tuple[Account, VenueAdapter]:
        """Raises UnknownAccount when the account is not configured."""
        with self._lock:
            hit = self._cache.get(account)
            if hit is not None:
                return hit
            with self._pool.connection() as conn:
                acct = load(conn, account)
            if acct is None:
                raise UnknownAccount(f"account {account!r} is not configured for LIVE or SHADOW execution")
            adapter = self._factory(acct, lambda: self._credentials(acct.account))
            self._cache[account] = (acct, adapter)
            return acct, adapter

    def _credentials(self, account: str) -> Credentials:
        if self._vault is None:
            raise UnknownAccount(f"account {account}: this component has no key vault")
        with self._pool.connection() as conn:
            r = conn.execute(
                "SELECT key_id, key_ciphertext FROM exec_accounts WHERE account = %s", (account,)
            ).fetchone()
        if r is None or r[1] is None:
            raise UnknownAccount(f"account {account} has no stored keys")
        return self._vault.open(account, r[0], bytes(r[1]))

    def close(self) -> None:
        with self._lock:
            for _acct, adapter in self._cache.values():
                adapter.close()
            self._cache.clear()
