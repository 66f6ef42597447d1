"""Exchange keys: sealed with AES-256-GCM, opened only by the executor/reconciler, and never
in logs, events or error messages."""

from __future__ import annotations

import logging

import psycopg
import pytest
from kairos.errors import ConfigError
from kairos.execution import accounts
from kairos.execution.vault import Credentials, KeyUnavailable, KeyVault, generate_kek
from kairos_testkit.execution import API_KEY, KEK, SECRET, command, db_order, deliver, exec_env, setup_account
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics


def test_sealed_keys_open_only_with_the_right_kek_and_account_and_rotation_keeps_old_rows_readable():
    old = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": KEK})
    key_id, blob = old.seal("acct-a", Credentials("my-api-key", "my-secret"))
    assert b"my-secret" not in blob and b"my-api-key" not in blob and key_id == "k1"
    assert old.open("acct-a", key_id, blob) == Credentials("my-api-key", "my-secret")
    with pytest.raises(KeyUnavailable, match="do not open"):
        old.open("acct-b", key_id, blob)  # a row copied onto another account does not open
    rotated = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": generate_kek("k2"), "KAIROS_EXCHANGE_KEK_PREVIOUS": KEK})
    assert rotated.open("acct-a", key_id, blob).secret == "my-secret"
    assert rotated.seal("acct-a", Credentials("x", "y"))[0] == "k2"
    with pytest.raises(KeyUnavailable, match="not loaded"):
        KeyVault.from_env({"KAIROS_EXCHANGE_KEK": generate_kek("k3")}).open("acct-a", key_id, blob)
    with pytest.raises(ConfigError, match="KAIROS_EXCHANGE_KEK") as err:
        KeyVault.from_env({"KAIROS_EXCHANGE_KEK": "k1:not-base64!!"})
    assert "not-base64" not in str(err.value)
    assert "my-secret" not in repr(Credentials("my-api-key", "my-secret"))
    assert "my-api-key" not in str(Credentials("my-api-key", "my-secret"))


def test_keys_never_appear_in_logs_events_or_errors(database_url, sim, kafka_bootstrap, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    # a second account whose secret is wrong: every signed call fails with an auth error
    vault = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": KEK})
    wrong_secret = "wrong-secret-Kq81ZzX0"
    with psycopg.connect(database_url, autocommit=True) as conn:
        accounts.register(
            conn,
            vault,
            "acct-bad",
            venue="binanceusdm",
            mode="live",
            base_url=sim.base_url,
            creds=Credentials(API_KEY, wrong_secret),
        )
    env = {**runtime_env(database_url, kafka_bootstrap, LOG_LEVEL="DEBUG"), **exec_env(database_url)}
    with in_process("executor", env) as fn:
        good = command(quantity="0.010")
        assert deliver(fn, good) == 204
        bad = command(account="acct-bad")
        outcome = fn.process(__import__("kairos.contracts.codec", fromlist=["x"]).to_cloudevent(bad))
        assert outcome.status >= 500  # not executed, retried later: never a rejection of the command
        reasons = outcome.body().decode()
    assert db_order(database_url, good.data.command_id)["state"] == "FILLED"
    out, err = capfd.readouterr()
    captured = out + err + caplog.text + reasons
    with psycopg.connect(database_url) as conn:
        stored = "".join(str(r) for r in conn.execute("SELECT headers::text, value FROM outbox"))
        audit = "".join(str(r) for r in conn.execute("SELECT * FROM order_events"))
    assert "kairos.execution" in captured or "executor" in captured  # something was logged at all
    for secret in (SECRET, wrong_secret, API_KEY, KEK.split(":")[1]):
        assert secret not in captured
        assert secret not in stored and secret not in audit
