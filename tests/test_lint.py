"""ruff and mypy over everything `make lint` covers, so `make test` (what CI runs) fails on a
lint error too. A private mypy cache keeps it independent of a developer's `.mypy_cache`; cold
it takes ~10-20 s on the 2-core dev machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kairos_testkit.paths import REPO


@pytest.mark.slow
def test_ruff_and_mypy_are_clean(tmp_path: Path) -> None:
    env = {**os.environ, "KAIROS_BIN": str(Path(sys.executable).parent), "MYPY_CACHE_DIR": str(tmp_path / "mypy"),
           "RUFF_CACHE_DIR": str(tmp_path / "ruff")}
    result = subprocess.run([str(REPO / "scripts" / "lint.sh")], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"scripts/lint.sh failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
