"""``kairos risk`` and ``kairos portfolio`` against the real Postgres."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from kairos.cli import main
from kairos.risk import limits
from kairos.runtime.db import migrate


def test_limits_kill_release_and_portfolio(database_url: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    migrate(database_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert (
        main(
            ["risk", "limits", "set", "account", "max_daily_loss", "250", "--id", "a1", "--reason", "go", "--by", "ana"]
        )
        == 0
    )
    assert main(["risk", "limits", "set", "account", "max_daily_loss", "200", "--id", "a1", "--reason", "less"]) == 0
    assert main(["risk", "limits", "set", "account", "max_daily_loss", "x", "--id", "a1", "--reason", "bad"]) == 2
    assert main(["risk", "limits", "set", "account", "max_daily_loss", "1", "--reason", "no id"]) == 2
    assert main(["risk", "kill", "strategy", "--id", "s1", "--reason", "drill"]) == 0
    capsys.readouterr()
    assert main(["risk", "limits"]) == 0
    shown = capsys.readouterr().out
    assert "max_daily_loss" in shown and "200 (v2" in shown and "ENGAGED strategy s1: drill" in shown
    assert main(["risk", "release", "strategy", "--id", "s1", "--reason", "over"]) == 0
    with psycopg.connect(database_url) as conn:
        assert limits.engaged_switches(conn) == []
        assert [x.value for x in limits.current(conn)] == [Decimal("200")]
        log = conn.execute("SELECT engaged, reason FROM risk_kill_switch_log ORDER BY id").fetchall()
    assert log == [(True, "drill"), (False, "over")]
    capsys.readouterr()
    assert main(["portfolio"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("portfolio as of ") and "balances:" in out and "last snapshots" in out
