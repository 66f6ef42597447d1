"""``kairos new function NAME``: a new stage's function project, catalog entry and test skeleton.

    kairos new function market-watch --description "..." --subscribes norm.swap_demand --publishes ops.alert
    kairos new function candle-check --description "..." --cron "*/5 * * * *" --publishes ops.alert

Topics must already be in the catalog (a stage's contract and topic come first; see
docs/ADDING_A_STAGE.md). Afterwards run ``kairos manifests`` and ``kairos catalog --write-docs``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kairos.scaffold.function import Request, ScaffoldError, plan

#: The repository root when running from a checkout (shared/kairos/scaffold/ -> ../../..).
REPO_ROOT = Path(__file__).resolve().parents[3]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    fn = kinds.add_parser("function", help="a CloudEvents function triggered by topics or a cron schedule")
    fn.add_argument("name", help="the function's name: lower-case words joined by '-'")
    fn.add_argument("--description", required=True, help="one sentence: what the stage does (catalog and docs)")
    fn.add_argument("--subscribes", action="append", default=[], metavar="TOPIC",
                    help="a topic it consumes (repeatable); gets a dead-letter topic dlq.NAME")
    fn.add_argument("--cron", metavar="EXPR", help="a cron schedule (UTC) instead of subscriptions")
    fn.add_argument("--publishes", action="append", default=[], metavar="TOPIC",
                    help="a topic it emits to (repeatable)")
    fn.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")


def run(args: argparse.Namespace) -> int:
    req = Request(name=args.name, description=args.description, subscribes=tuple(args.subscribes),
                  publishes=tuple(args.publishes), cron=args.cron)
    root: Path = args.root
    try:
        files = plan(req, root)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    files.write(root)
    for rel in files.files:
        print(f"wrote {rel}")
    print(
        "next: put the stage's rules in a library module and call it from func.py; extend the test;\n"
        "      then `kairos manifests` and `kairos catalog --write-docs` (docs/ADDING_A_STAGE.md)"
    )
    return 0
