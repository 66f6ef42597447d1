"""The kustomize layout: every reference resolves, and the Python renderer matches kustomize."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kairos.deploy.manifests import KNATIVE_DIR
from kairos.deploy.manifests_render import UnsupportedKustomization, apply_json6902, render
from kairos_testkit.paths import REPO

KUSTOMIZATIONS = sorted((REPO / KNATIVE_DIR).rglob("kustomization.yaml"))


def _key(doc: dict) -> tuple[str, str, str, str]:
    meta = doc["metadata"]
    return doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta["name"]


def test_layout_is_a_base_a_single_node_overlay_and_a_root_pointing_at_it() -> None:
    relative = {p.relative_to(REPO / KNATIVE_DIR).as_posix() for p in KUSTOMIZATIONS}
    assert relative == {"kustomization.yaml", "base/kustomization.yaml", "overlays/single-node/kustomization.yaml"}
    root = yaml.safe_load((REPO / KNATIVE_DIR / "kustomization.yaml").read_text())
    assert root["resources"] == ["overlays/single-node"]


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=lambda p: p.parent.name)
def test_every_kustomization_references_only_existing_files(path: Path) -> None:
    spec = yaml.safe_load(path.read_text())
    for entry in spec.get("resources", []):
        target = path.parent / entry
        assert target.is_file() or (target / "kustomization.yaml").is_file(), f"{path}: {entry} does not exist"
    for patch in spec.get("patches", []):
        assert "patch" in patch or (path.parent / patch["path"]).is_file()


def test_base_kustomization_lists_every_base_file() -> None:
    base = REPO / KNATIVE_DIR / "base"
    listed = set(yaml.safe_load((base / "kustomization.yaml").read_text())["resources"])
    present = {p.relative_to(base).as_posix() for p in base.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present


def test_python_rendering_equals_kubectl_kustomize() -> None:
    kubectl = shutil.which("kubectl") or shutil.which("kustomize")
    if kubectl is None:
        pytest.skip("neither kubectl nor kustomize is installed: the Python renderer is the only check")
    args = [kubectl, "kustomize", str(REPO / KNATIVE_DIR)]
    if Path(kubectl).name == "kustomize":
        args = [kubectl, "build", str(REPO / KNATIVE_DIR)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    theirs = {_key(d): d for d in yaml.safe_load_all(out) if d}
    ours = {_key(d): d for d in render(REPO / KNATIVE_DIR)}
    assert set(ours) == set(theirs)
    assert [k for k in ours if ours[k] != theirs[k]] == []


def test_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(UnsupportedKustomization, match="namePrefix"):
        render(tmp_path)


def test_a_patch_on_a_missing_path_fails_instead_of_rendering_silently() -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}}
    assert apply_json6902(doc, [{"op": "replace", "path": "/data/a", "value": "2"}])["data"] == {"a": "2"}
    assert doc["data"] == {"a": "1"}, "the input is not modified"
    with pytest.raises(ValueError, match="/spec/replicas"):
        apply_json6902(doc, [{"op": "replace", "path": "/spec/replicas", "value": 1}])
