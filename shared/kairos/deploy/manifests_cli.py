"""``kairos manifests``: write ``k8s/knative/`` and every function's func.yaml from the catalog.

``--check`` writes nothing and exits 1 listing every drifted file, so CI (and the drift
test) can say "run make manifests" instead of deploying something the catalog does not say.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kairos.catalog.model import load_catalog
from kairos.errors import ConfigError

#: The repository root when running from a checkout (shared/kairos/deploy/ -> ../../..).
REPO_ROOT = Path(__file__).resolve().parents[3]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 and list drifted files")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")
    parser.add_argument(
        "--wheel",
        action="store_true",
        help="only build the kairos wheel and copy it into every functions/<name>/vendor/ (what func build installs)",
    )
    parser.add_argument(
        "--kn",
        action="store_true",
        help="print the kn commands (service, source kafka, source ping) that make the same wiring; write nothing",
    )


def run(args: argparse.Namespace) -> int:
    from kairos.deploy.manifests import drift, generate, write

    if args.wheel:
        return _vendor_wheel(args.root)
    catalog = load_catalog()
    errors = catalog.consistency_errors()
    if errors:
        for err in errors:
            print(f"catalog error: {err}", file=sys.stderr)
        return 1
    try:
        files = generate(catalog)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    root: Path = args.root
    if args.kn:
        from kairos.deploy.kn import kn_script

        print(kn_script(catalog), end="")
        return 0
    if args.check:
        problems = drift(root, files)
        for line in problems:
            print(line)
        if problems:
            print("generated manifests are stale: run `make manifests`", file=sys.stderr)
            return 1
        print(f"{len(files)} generated files up to date")
        return 0
    changes = write(root, files)
    for line in changes:
        print(line)
    print(f"{len(files)} files generated, {len(changes)} changed")
    return 0


def _vendor_wheel(root: Path) -> int:
    from kairos.deploy.wheels import build_library_wheel, misdeclared, vendor

    problems = misdeclared(root)
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if problems:
        return 1
    try:
        wheel = build_library_wheel(root, root / "build" / "wheels")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    targets = vendor(root, wheel)
    print(f"{wheel.name} copied into {len(targets)} function projects (functions/<name>/vendor/)")
    return 0
