"""``kairos invoke`` against a served function: structured mode, an emitted event listed
once even when re-emitted, and a clear error (no traceback) for an unknown function."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
from kairos_testkit.events import quote_event
from kairos_testkit.functions import runtime_env, served
from kairos_testkit.topics import create_topics


def kairos(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kairos.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_unknown_function_in_process_is_a_clear_error_without_traceback(tmp_path):
    done = kairos(
        "invoke", "no-such-function", "--type", "x", "--data", "{}", "--in-process",
        env={"DATABASE_URL": "postgresql:///x", "KAIROS_STATE_DIR": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown function 'no-such-function'" in done.stderr and "reactor" in done.stderr
    assert "Traceback" not in done.stderr


def test_structured_mode_and_an_event_re_emitted_is_listed_once(database_url, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    payload = tmp_path / "quote.json"
    payload.write_text(json.dumps(quote_event("invoke-structured").data.model_dump(mode="json")))
    env = runtime_env(database_url, kafka_bootstrap)
    with served("normalize-near-intents", env, tmp_path) as fn:
        args = ["invoke", "normalize-near-intents", "--url", fn.url, "--type", "kairos.raw.near_intents.quote"]
        args += ["--data", f"@{payload}", "--json", "--format", "structured", "--id", "inv-1"]
        first = json.loads(kairos(*args, env={"DATABASE_URL": database_url}).stdout)
        assert first["status"] == 204 and len(first["emitted"]) == 1
        [emitted_id] = first["emitted_ids"]
        with psycopg.connect(database_url) as conn:  # the stored result emitted a second time
            conn.execute(
                "INSERT INTO outbox (event_id, event_type, producer, topic, record_key, headers, value)"
                " SELECT event_id, event_type, producer, topic, record_key, headers, value FROM outbox"
                " WHERE event_id = %s",
                (emitted_id,),
            )
        from kairos.dev.invoke import emitted_events

        assert [e["id"] for e in emitted_events(database_url, [emitted_id, emitted_id])] == [emitted_id]
