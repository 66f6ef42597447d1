"""``kairos manifests`` writes, and ``--check`` reports drift without writing; builders refuse bad wiring."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from kairos.catalog.model import Catalog, load_catalog
from kairos.deploy import manifests_cli
from kairos.deploy.manifests import generate
from kairos.deploy.manifests_knative import checked_name
from kairos.errors import ConfigError


def _run(root: Path, check: bool) -> int:
    parser = argparse.ArgumentParser()
    manifests_cli.add_arguments(parser)
    return manifests_cli.run(parser.parse_args(["--root", str(root), *(["--check"] if check else [])]))


def test_write_then_check_then_drift_then_rewrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path, check=True) == 1, "an empty tree is all drift"
    assert not (tmp_path / "k8s").exists(), "--check writes nothing"
    assert _run(tmp_path, check=False) == 0
    assert _run(tmp_path, check=True) == 0

    service = tmp_path / "k8s/knative/base/functions/reactor.yaml"
    service.write_text(service.read_text().replace("min-scale: '1'", "min-scale: '0'"))
    stale = tmp_path / "k8s/knative/base/old.yaml"
    stale.write_text("kind: Leftover\n")
    capsys.readouterr()
    assert _run(tmp_path, check=True) == 1
    out = capsys.readouterr()
    assert "changed: k8s/knative/base/functions/reactor.yaml" in out.out
    assert "not generated: k8s/knative/base/old.yaml" in out.out
    assert "make manifests" in out.err

    assert _run(tmp_path, check=False) == 0
    assert not stale.exists()
    assert _run(tmp_path, check=True) == 0


def test_generation_is_deterministic() -> None:
    assert generate(load_catalog()) == generate(load_catalog())


def test_a_subscription_without_dead_letter_topic_is_refused() -> None:
    raw = load_catalog().model_dump()
    raw["functions"][0]["dead_letter_topic"] = None
    with pytest.raises(ConfigError, match="dead_letter_topic"):
        generate(Catalog.model_validate(raw))


def test_a_name_kubernetes_would_reject_is_refused() -> None:
    with pytest.raises(ConfigError, match="DNS-1123"):
        checked_name("x" * 64)
    with pytest.raises(ConfigError, match="DNS-1123"):
        checked_name("Upper")
