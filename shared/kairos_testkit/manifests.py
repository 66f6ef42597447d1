"""The generated Knative base manifests as the deploy tests read them, and a filter by kind."""

from __future__ import annotations

from typing import Any

import yaml
from kairos.catalog.model import load_catalog
from kairos.deploy.manifests import KNATIVE_DIR, generate

from kairos_testkit.paths import REPO


def base_docs() -> list[dict[str, Any]]:
    """Every manifest of ``k8s/knative/base`` as the generator makes it (fresh copies)."""
    files = generate(load_catalog())
    base = REPO / KNATIVE_DIR / "base"
    docs: list[dict[str, Any]] = []
    for rel, text in files.items():
        if (REPO / rel).is_relative_to(base) and rel.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(text) if d is not None]
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]
