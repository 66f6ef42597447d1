"""``kairos dev`` with the simulator: its funded account is registered as the LIVE account
``dev-sim`` with sealed keys (not handed to every process in variables), and a variable the
operator exported wins over the catalog's value for the functions it starts."""

from __future__ import annotations

import psycopg
from kairos.catalog import load_catalog
from kairos.dev import build
from kairos.dev.state import StateDir
from kairos.execution.vault import KeyVault
from kairos_testkit.execution import KEK


def test_the_simulators_account_is_registered_with_sealed_keys(database_url):
    infra = build.Infra(database_url, "127.0.0.1:1", "tansu", {build.VENUE_URL_ENV: "http://127.0.0.1:9"},
                        {"KAIROS_EXCHANGE_KEK": KEK})
    build.register_dev_account(infra)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT mode, base_url, key_id, key_ciphertext FROM exec_accounts WHERE account = %s",
                           (build.DEV_ACCOUNT,)).fetchone()
    assert row is not None and row[:2] == ("live", "http://127.0.0.1:9")
    creds = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": KEK}).open(build.DEV_ACCOUNT, row[2], bytes(row[3]))
    assert creds.api_key == build.VENUE_API_KEY
    assert not any(k.startswith("KAIROS_VENUE_API") for k in infra.env())  # keys are not in the environment


def test_an_exported_variable_wins_over_the_catalogs(tmp_path, monkeypatch):
    mine = '{"default": {"stop_loss": {"distance_pct": "3"}}}'
    monkeypatch.setenv("KAIROS_POSITIONS_PROTECTION", mine)
    infra = build.Infra("postgresql://unused", "127.0.0.1:1", "tansu", {}, {})
    (proc,) = build.function_processes(load_catalog(), StateDir(tmp_path), infra, {"portfolio"})
    assert proc.env["KAIROS_POSITIONS_PROTECTION"] == mine
    monkeypatch.delenv("KAIROS_POSITIONS_PROTECTION")
    (proc,) = build.function_processes(load_catalog(), StateDir(tmp_path), infra, {"portfolio"})
    catalog_value = load_catalog().function("portfolio").env["KAIROS_POSITIONS_PROTECTION"]
    assert proc.env["KAIROS_POSITIONS_PROTECTION"] == catalog_value
