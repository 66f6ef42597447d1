"""``kairos strategy`` and ``make run``'s example strategies, against a real Postgres."""

from __future__ import annotations

import argparse
from pathlib import Path

import psycopg
import pytest
from kairos.dev.strategies import SHADOW_ACCOUNT, lines, start_examples
from kairos.strategies import cli, store
from kairos_testkit.strategies import EXAMPLES


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(list(argv)))


def test_validate_accepts_the_examples_and_lists_every_problem_of_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("validate", *map(str, sorted(EXAMPLES.glob("*.yaml")))) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "sma-crossover.yaml").read_text().replace("period: 20", "period: 0")
                   .replace("crosses_below: [fast, slow]", "crosses_below: [fast, slower]"))  # fmt: skip
    assert run("validate", str(bad)) == 1
    err = capsys.readouterr().err
    assert "indicators.slow.period: expected greater than or equal to 2; found 0" in err


def test_create_start_stop_list_through_the_command(
    db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", db)
    doc = tmp_path / "s.yaml"
    doc.write_text((EXAMPLES / "rsi-mean-reversion.yaml").read_text().replace("dev-shadow", "acc-shadow"))
    assert run("create", str(doc)) == 0
    assert run("create", str(doc)) == 0  # unchanged: no new version
    assert run("start", "rsi-mean-reversion") == 0
    assert run("stop", "rsi-mean-reversion", "--reason", "lunch") == 0
    assert run("list") == 0
    out = capsys.readouterr().out
    assert "version 1 created" in out and "version 1 (unchanged)" in out
    assert "rsi-mean-reversion           STOPPED" in out and "lunch" in out
    assert run("start", "nope") == 1
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT topic, event_type FROM outbox ORDER BY id").fetchall()
        protection = conn.execute("SELECT protection FROM protection_settings WHERE scope = 'strategy'").fetchone()
    assert rows == [("event.strategy", "kairos.strategy.started"), ("event.strategy", "kairos.strategy.stopped")]
    assert protection is not None and protection[0]["stop_loss"] == {"distance_pct": "2"}


def test_make_runs_example_strategies_run_in_shadow_once(db: str) -> None:
    names = start_examples(db, "http://127.0.0.1:1", {"KAIROS_DEV_STRATEGIES": str(EXAMPLES)})
    assert sorted(names) == ["bollinger-breakout", "rsi-mean-reversion", "sma-crossover"]
    assert start_examples(db, "http://127.0.0.1:1", {"KAIROS_DEV_STRATEGIES": str(EXAMPLES)}) == names
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT mode FROM exec_accounts WHERE account = %s", (SHADOW_ACCOUNT,)).fetchone() == (
            "shadow",)
        assert {r.strategy_id: (r.state, r.running_version) for r in store.rows(conn)} == {
            n: ("RUNNING", 1) for n in names}
        assert conn.execute("SELECT count(*) FROM outbox WHERE topic = 'event.strategy'").fetchone() == (3,)
        assert lines(conn) == []
    assert start_examples(db, "http://127.0.0.1:1", {"KAIROS_DEV_STRATEGIES": ""}) == []
