"""An account added from the command line trades and is protected end to end through the
simulator, with the protection stored for it in Postgres; an account with none gets the safe
default; keys are sealed at once, never printed, and re-sealed under a new KEK."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
from kairos.cli import main
from kairos.execution.vault import KeyVault, generate_kek
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.protection_settings import warn_unset
from kairos_testkit.execution import ACCOUNT, KEK
from kairos_testkit.protection_system import system

KEY, SECRET = "kp-cli-key-Ww7Q2", "kp-cli-secret-c9Jd0xR4"
OWN = {"take_profits": [{"distance_pct": "1", "fraction": "1"}], "stop_loss": {"distance_pct": "1.5"}}


def _stop(s, account: str) -> tuple[Decimal, Decimal]:
    """(entry, stop price) of the account's open position."""
    (pos,) = [p for p in s.positions() if p["key"]["account"] == account]
    with psycopg.connect(s.url) as conn:
        row = conn.execute(
            "SELECT o.stop_price FROM position_protective_orders l JOIN orders o ON o.command_id = l.command_id"
            " WHERE l.position_id = %s AND l.kind = 'SL' AND o.state = 'OPEN'", (pos["position_id"],),
        ).fetchone()
    assert row is not None, "no resting stop"
    return Decimal(pos["entry_price"]), Decimal(row[0])


def test_account_added_from_the_cli_trades_protected_and_its_keys_never_show(
    database_url, kafka_bootstrap, sim, tmp_path, monkeypatch, capsys
):
    sim.control.add_account(KEY, SECRET, "100000")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"api_key": KEY, "secret": SECRET}))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAIROS_EXCHANGE_KEK", KEK)
    assert main(["account", "add", "acct-cli", "--mode", "live", "--base-url", sim.base_url,
                 "--keys-file", str(keys)]) == 0
    assert "safe default" in capsys.readouterr().err  # no --protection: told what it gets
    assert main(["account", "protect", "--account", "acct-cli", "--protection", json.dumps(OWN)]) == 0
    with system(database_url, kafka_bootstrap, sim, protection={}) as s:  # nothing in the environment
        assert main(["account", "list"]) == 0
        with psycopg.connect(database_url) as conn:
            assert warn_unset(conn, PositionsConfig.from_env({})) == [ACCOUNT]  # the one with no settings
        s.enter(account="acct-cli")
        s.enter(account=ACCOUNT)
        s.settle()
        assert len(s.orders("TP", active=True)) == 2 and len(s.orders("SL", active=True)) == 2
        entry, stop = _stop(s, "acct-cli")  # its own settings, from Postgres
        assert abs(stop - entry * Decimal("0.985")) <= Decimal("0.1")
        entry, stop = _stop(s, ACCOUNT)  # none stored, none in the environment: the safe default
        assert abs(stop - entry * Decimal("0.98")) <= Decimal("0.1")

    new_kek = generate_kek("k2")
    monkeypatch.setenv("KAIROS_EXCHANGE_KEK", new_kek)
    monkeypatch.setenv("KAIROS_EXCHANGE_KEK_PREVIOUS", KEK)
    assert main(["account", "rotate-keys", "--reseal"]) == 0
    printed = capsys.readouterr()
    assert "acct-cli" in printed.out and "re-sealed 2" in printed.out
    assert all(secret not in printed.out + printed.err for secret in (KEY, SECRET, KEK, new_kek))
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT key_id, key_ciphertext FROM exec_accounts WHERE account = 'acct-cli'").fetchone()
    assert row is not None
    key_id, blob = row
    assert key_id == "k2"
    only_new = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": new_kek})
    assert only_new.open("acct-cli", key_id, bytes(blob)).api_key == KEY


def test_a_bad_protection_or_missing_keys_are_refused_with_a_reason(database_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAIROS_EXCHANGE_KEK", KEK)
    assert main(["account", "protect", "--strategy", "scalp", "--protection", '{"stop_loss": {}}']) == 2
    assert "protection is not valid" in capsys.readouterr().err
    empty = tmp_path / "k"
    empty.write_text("only-a-key\n")
    assert main(["account", "add", "x", "--mode", "live", "--keys-file", str(empty)]) == 2
    assert "API key and a secret" in capsys.readouterr().err
    assert main(["account", "protect", "--strategy", "scalp", "--protection", "none"]) == 0
    assert "protect nothing" in capsys.readouterr().err
