"""An account trades through the package of the venue it names; a venue with no package is
refused by name (it used to be traded on Binance silently), and the clock guard says so."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg
import pytest
from kairos.execution import accounts
from kairos.execution.clock_guard import check_all
from kairos.execution.shadow import ShadowAdapter
from kairos.execution.vault import KeyVault
from kairos.execution.wiring import adapter_factory
from kairos.venues import registry
from kairos.venues.binance_usdm.definition import DEFINITION
from kairos.venues.binance_usdm.live import LiveAdapter
from kairos.venues.port import Credentials
from kairos.venues.registry import UnknownVenue
from kairos_testkit.execution import ACCOUNT, KEK, runtime, setup_account


def _register(database_url: str, sim: Any, account: str, venue: str, mode: str) -> None:
    vault = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": KEK})
    with psycopg.connect(database_url, autocommit=True) as conn:
        accounts.register(conn, vault, account, venue=venue, mode=mode, base_url=sim.base_url,
                          creds=Credentials(sim.api_key, sim.secret))  # fmt: skip


def test_adapters_come_from_the_accounts_venue_package_and_an_unknown_venue_is_refused(database_url, sim):
    setup_account(database_url, sim)  # binanceusdm, LIVE
    _register(database_url, sim, "acct-shadow", "binanceusdm", "shadow")
    _register(database_url, sim, "acct-live-nowhere", "nowhere", "live")
    _register(database_url, sim, "acct-shadow-nowhere", "nowhere", "shadow")
    with runtime(database_url) as rt:
        assert isinstance(rt.book.get(ACCOUNT)[1], LiveAdapter)
        shadow = rt.book.get("acct-shadow")[1]
        assert isinstance(shadow, ShadowAdapter)
        assert shadow.marks(["BTC/USDT:USDT"])["BTC/USDT:USDT"] > 0  # the venue's public last price
        for account in ("acct-live-nowhere", "acct-shadow-nowhere"):
            with pytest.raises(UnknownVenue, match="'nowhere' has no venue package; known: binanceusdm"):
                rt.book.get(account)
    with psycopg.connect(database_url, autocommit=True) as conn:
        alerts = check_all(conn, timeout_ms=2000)
    assert [(a.code, (a.details or {})["account"]) for a in alerts] == [("CLOCK_UNMEASURED", "acct-live-nowhere")]
    assert "UnknownVenue" in alerts[0].message


def test_a_venue_with_shorter_client_ids_than_ours_is_refused(monkeypatch):
    """Our ids are 36 characters; a venue taking fewer would truncate or refuse every order."""
    capabilities = replace(DEFINITION.capabilities, client_id_max_length=32)
    short = replace(DEFINITION, name="short-ids", capabilities=capabilities)
    monkeypatch.setitem(registry.TRADING_VENUES, "short-ids", short)
    build = adapter_factory(None, 1000)  # type: ignore[arg-type]  # the pool serves SHADOW only
    with pytest.raises(UnknownVenue, match="at most 32 characters, Kairos sends 36"):
        build(accounts.Account("acct", "short-ids", "live", None), lambda: Credentials("k", "s"))
