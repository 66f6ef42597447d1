"""Run the benchmarks: ``python -m bench [NAME ...]`` (all when no name is given).

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
    chosen = argv or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
        return 2
    status = 0
    for name in chosen:
        print(f"=== bench {name} ===", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        status |= int(module.main([]) or 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
