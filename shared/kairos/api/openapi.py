"""The API's OpenAPI document, committed as docs/api/openapi.json (a test fails when it drifts).

``python -m kairos.api.openapi`` rewrites the file; ``--check`` only compares.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kairos.api.app import Api
from kairos.api.settings import ApiSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "api" / "openapi.json"


def document() -> dict[str, Any]:
    """The document as the running API serves it (no database needed to build it)."""
    settings = ApiSettings.from_env({"DATABASE_URL": "postgresql:///unused", "KAIROS_API_JWT_SECRET": "x" * 32})
    return Api(settings, pool=None).app.openapi()  # type: ignore[arg-type]


def text() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed file differs")
    args = parser.parse_args(argv)
    if args.check:
        same = DOC.is_file() and DOC.read_text() == text()
        print("docs/api/openapi.json is up to date" if same else "docs/api/openapi.json drifted: rewrite it")
        return 0 if same else 1
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text())
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
