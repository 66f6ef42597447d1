"""``kairos catalog``: print the wiring, or check it (exit 1 with every problem listed)."""

from __future__ import annotations

import argparse
import json

from kairos.catalog.model import load_catalog


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="only check consistency")


def run(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    errors = catalog.consistency_errors()
    for err in errors:
        print(f"catalog error: {err}")
    if args.check:
        return 1 if errors else 0
    print(json.dumps(catalog.model_dump(), indent=2))
    return 1 if errors else 0
