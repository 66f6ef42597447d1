"""Where the repository is, for tests that read its files or run its commands from its root.

The test kit is used from a development checkout only (it is not part of the wheel), so the
repository root is two levels above this package (``shared/kairos_testkit``)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
