"""Run the benchmarks: ``python -m bench [NAME ...] [--option ...]`` (all when no name is given).

Options after the names go to the benchmark's own parser, so they need exactly one name
(``python -m bench protection --burst 500``).

Benchmarks print their measurements; the numbers worth keeping go to
``docs/PERFORMANCE.md`` together with the command that produced them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name[len("bench_") :] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    first_option = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    chosen, options = argv[:first_option] or names, argv[first_option:]
    if options and len(chosen) != 1:
        print(f"options {options} need exactly one benchmark name, got {chosen}", file=sys.stderr)
        return 2
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
        return 2
    status = 0
    for name in chosen:
        print(f"=== bench {name} ===", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        status |= int(module.main(options) or 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
