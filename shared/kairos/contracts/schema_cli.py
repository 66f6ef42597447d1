"""``kairos schemas``: regenerate ``schemas/`` from the models (refuses breaking changes)."""

from __future__ import annotations

import argparse

from kairos.contracts.schemas import REPO_SCHEMAS, write_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-breaking", action="store_true", help="overwrite even incompatible changes")


def run(args: argparse.Namespace) -> int:
    problems = write_all(REPO_SCHEMAS, allow_breaking=args.allow_breaking)
    for p in problems:
        print(f"breaking change (make a new version of the type instead): {p}")
    if not problems:
        print(f"schemas written to {REPO_SCHEMAS}")
    return 1 if problems else 0
