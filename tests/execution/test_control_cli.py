"""``kairos control``: status, stop, resume of strategy_control with DATABASE_URL."""

from __future__ import annotations

import psycopg
import pytest
from kairos.cli import main
from kairos.runtime.db import apply_migrations


def test_resume_after_recovery_stopped_everything(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn)
        conn.execute(
            "INSERT INTO strategy_control (scope, stopped, reason, updated_by)"
            " VALUES ('all', true, 'executor recovered with 2 in-flight orders; review, then resume', 'executor')"
        )
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["control", "status"]) == 0
    assert "STOPPED" in capsys.readouterr().out
    assert main(["control", "resume", "--by", "ops"]) == 0
    assert "all: resumed" in capsys.readouterr().out
    assert main(["control", "resume", "--by", "ops"]) == 0
    assert "was not stopped" in capsys.readouterr().out
    assert main(["control", "stop", "--scope", "scalp", "--reason", "review", "--by", "ops"]) == 0
    with psycopg.connect(database_url) as conn:
        rows: dict[str, bool] = dict(conn.execute("SELECT scope, stopped FROM strategy_control").fetchall())
    assert rows == {"all": False, "scalp": True}


def test_without_database_url_it_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["control", "status"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err
