"""Commands an operator runs by hand read ``DATABASE_URL`` through one helper and say what to
set when it is missing, before touching anything."""

from __future__ import annotations

import pytest
from kairos.cli import main


@pytest.mark.parametrize("argv", [["control", "status"], ["risk", "limits"], ["portfolio"]], ids=" ".join)
@pytest.mark.parametrize("value", [None, "  "], ids=["unset", "blank"])
def test_a_missing_database_url_is_named_with_what_to_set(
    argv: list[str], value: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if value is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"kairos {argv[0]}: DATABASE_URL is not set: point it at the Kairos database" in err
