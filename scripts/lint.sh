#!/usr/bin/env bash
# The whole lint: ruff over every Python tree, mypy over the library, the test kit, tests and
# bench, then mypy over each function project on its own (every project's package is named
# `function`, so one run cannot hold two of them). `make lint` and tests/test_lint.py run this.
# KAIROS_BIN: where ruff and mypy live (default .venv/bin); MYPY_CACHE_DIR is honoured by mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${KAIROS_BIN:-.venv/bin}

failed=0
"$BIN/ruff" check --quiet shared tests bench functions || failed=1
"$BIN/mypy" --no-error-summary || failed=1
for project in functions/*/function bench/noop_function/function; do
  "$BIN/mypy" --no-error-summary "$project" || failed=1
done
if [[ $failed -ne 0 ]]; then
  echo "lint: errors above (ruff: \`ruff check --fix\` mends some; mypy: fix the types)" >&2
  exit 1
fi
echo "lint: ruff and mypy clean"
