"""``kairos new function``: run in a copy of the repository's layout, its result passes the
catalog's checks, generates its manifests and docs, and its own test skeleton passes on the real
Postgres and broker; a refused request writes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kairos.catalog.model import load_catalog
from kairos.scaffold.function import CATALOG, Request, ScaffoldError, plan
from kairos_testkit.paths import REPO

SUBSCRIBER = ["market-watch", "--description", "Watches swap demand: alerts on outsized quotes.",
              "--subscribes", "norm.swap_demand", "--publishes", "ops.alert"]
CRON = ["candle-check", "--description", "Every five minutes, checks the candles.", "--cron", "*/5 * * * *",
        "--publishes", "ops.alert"]


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """What the commands read and write: the library (so the copy's catalog is the one loaded),
    the function projects, the generated manifests, the architecture doc, the tests' conftest."""
    root = tmp_path / "repo"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for rel in ("shared", "functions", "k8s/knative"):
        shutil.copytree(REPO / rel, root / rel, ignore=skip)
    for rel in ("pyproject.toml", "docs/ARCHITECTURE.md", "tests/__init__.py", "tests/conftest.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    return root


def kairos(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI with the copy's library first on the path (so its paths resolve to the copy)."""
    full_env = {**os.environ, "PYTHONPATH": str(root / "shared"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "kairos.cli", *args], cwd=root, env=full_env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_new_functions_pass_the_catalog_checks_manifests_and_their_own_tests(
    repo_copy: Path, postgres_url: str, kafka_bootstrap: str
) -> None:
    for args in (SUBSCRIBER, CRON):
        made = kairos(repo_copy, "new", "function", *args, "--root", str(repo_copy))
        assert made.returncode == 0, made.stderr
    for args in (["catalog", "--check"], ["manifests"], ["manifests", "--check"], ["catalog", "--write-docs"]):
        done = kairos(repo_copy, *args)
        assert done.returncode == 0, f"kairos {' '.join(args)}: {done.stdout[-2000:]} {done.stderr[-2000:]}"

    catalog = load_catalog(repo_copy / CATALOG)
    watch, candles = catalog.function("market-watch"), catalog.function("candle-check")
    assert [(s.topic, s.consumer_group) for s in watch.subscriptions] == [("norm.swap_demand", "kairos.market-watch")]
    assert watch.publishes == ["ops.alert"] and watch.dead_letter_topic == "dlq.market-watch"
    assert catalog.topic("dlq.market-watch").dead_letter
    assert [(c.schedule, c.data) for c in candles.crons] == [("*/5 * * * *", {"job": "candle-check"})]
    assert (repo_copy / "k8s/knative/base/functions/market-watch.yaml").is_file()
    assert "`market-watch`" in (repo_copy / "docs/ARCHITECTURE.md").read_text()
    # the comments and anchors of the catalog survive: the entry was inserted, not re-dumped
    original = (REPO / CATALOG).read_text()
    assert all(line in (repo_copy / CATALOG).read_text().splitlines() for line in original.splitlines())

    generated = [repo_copy / "functions/market-watch", repo_copy / "functions/candle-check",
                 repo_copy / "tests/market_watch", repo_copy / "tests/candle_check"]
    lint = subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", "--no-cache", *map(str, generated)],
                          cwd=repo_copy, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout
    env = {**os.environ, "PYTHONPATH": str(repo_copy / "shared"), "DATABASE_URL": postgres_url,
           "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/market_watch",
                            "tests/candle_check"], cwd=repo_copy, env=env, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "2 passed" in tests.stdout


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (Request("executor", "x", subscribes=("norm.swap_demand",)), "already has a function or source named executor"),
        (Request("market-watch", "x", subscribes=("no.such.topic",)), "--subscribes no.such.topic: no such topic"),
        (Request("market-watch", "x", publishes=("no.such.topic",), cron="* * * * *"), "--publishes no.such.topic"),
        (Request("market-watch", "x", subscribes=("norm.swap_demand",), cron="* * * * *"), "not both or neither"),
        (Request("market-watch", "x"), "not both or neither"),
        (Request("market-watch", "x", cron="every minute"), "is not a cron expression"),
        (Request("Market_Watch", "x", cron="* * * * *"), "is not lower-case words"),
        (Request("market-watch", "x", subscribes=("dlq.executor",)), "a dead-letter topic"),
        (Request("market-watch", " ", cron="* * * * *"), "--description must say"),
    ],
)
def test_a_refused_request_names_why_and_writes_nothing(repo_copy: Path, request_: Request, reason: str) -> None:
    before = (repo_copy / CATALOG).read_text()
    with pytest.raises(ScaffoldError) as refused:
        plan(request_, repo_copy)
    assert reason in str(refused.value)
    assert (repo_copy / CATALOG).read_text() == before
    assert not (repo_copy / "functions/market-watch").exists()


def test_the_cli_refuses_with_exit_1_and_the_reasons(repo_copy: Path) -> None:
    refused = kairos(repo_copy, "new", "function", "executor", "--description", "x", "--cron", "* * * * *",
                     "--root", str(repo_copy))
    assert refused.returncode == 1
    assert "already has a function or source named executor" in refused.stderr
