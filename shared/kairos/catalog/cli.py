"""``kairos catalog``: print the wiring, or check it (exit 1 with every problem listed)."""

from __future__ import annotations

import argparse
import json

from kairos.catalog.model import load_catalog


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="only check consistency")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the wiring section of docs/ARCHITECTURE.md")


def run(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    errors = catalog.consistency_errors()
    for err in errors:
        print(f"catalog error: {err}")
    if args.write_docs:
        from kairos.catalog.docs import ARCHITECTURE, write

        print(f"{ARCHITECTURE}: {'updated' if write(catalog) else 'up to date'}")
        return 1 if errors else 0
    if args.check:
        return 1 if errors else 0
    print(json.dumps(catalog.model_dump(), indent=2))
    return 1 if errors else 0
