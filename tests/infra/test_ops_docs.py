"""docs/OPERATIONS.md and docs/PLATFORM.md cover what the issue asks, and every repository
path they name exists."""

from __future__ import annotations

import re

import pytest
from kairos_testkit.paths import REPO

DOCS = REPO / "docs"


def test_operations_covers_the_operators_path() -> None:
    text = (DOCS / "OPERATIONS.md").read_text()
    for heading in (
        "From zero to a running system",
        "Remote Terraform state",
        "Recovery",
        "Scaling from one node to several",
        "Upgrading versions",
        "Rotating the exchange-key encryption key",
        "Postgres backups (CloudNativePG to S3)",
        "Database migrations",
    ):
        assert re.search(rf"^#+ .*{re.escape(heading)}", text, re.M), heading


def test_platform_explains_every_component() -> None:
    text = (DOCS / "PLATFORM.md").read_text()
    for component in ("k3s", "Kourier", "KafkaSource", "KafkaSink", "PingSource", "Strimzi", "Redpanda",
                      "CloudNativePG", "KEDA", "Network policies", "versions.conf"):
        assert component in text, component


@pytest.mark.parametrize("doc", ["OPERATIONS.md", "PLATFORM.md"])
def test_named_paths_exist(doc: str) -> None:
    text = (DOCS / doc).read_text()
    paths = set(re.findall(r"`((?:infra|k8s|scripts|docs|shared)/[\w./-]+?)/?`", text))
    assert paths
    # git-ignored local files, generated output
    ignored = {"scripts/hetzner/bootstrap-secrets.env", "infra/terraform/hetzner/terraform.tfstate", "k8s/knative"}
    missing = [p for p in sorted(paths) if p not in ignored and not (REPO / p).exists()]
    assert missing == []
