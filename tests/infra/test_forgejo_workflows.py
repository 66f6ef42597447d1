"""The Forgejo Actions workflows (.forgejo/workflows) and the Forgejo install, checked offline:
structure, triggers, pinned actions, the commands they run exist, the secrets they read are
documented, and the Forgejo manifest validates with the image bootstrap.sh puts in."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kairos.deploy import validate_manifest
from kairos_testkit.infra_files import SCRIPTS, kubernetes_minor, versions
from kairos_testkit.paths import REPO

WORKFLOWS = REPO / ".forgejo" / "workflows"


def workflow(name: str) -> dict[Any, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True; Forgejo reads it as "on".
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def all_workflows() -> dict[str, dict[Any, Any]]:
    return {p.name: workflow(p.name) for p in sorted(WORKFLOWS.glob("*.yml"))}


def steps() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, step) for name, wf in all_workflows().items() for job in wf["jobs"].values() for step in job["steps"]
    ]


def test_structure_of_every_workflow() -> None:
    flows = all_workflows()
    assert set(flows) == {"test.yml", "images.yml", "deploy.yml"}
    images = set()
    for name, wf in flows.items():
        assert set(wf) <= {"name", "on", "jobs", "env"} and wf["name"] and wf["on"] and wf["jobs"], name
        for job_id, job in wf["jobs"].items():
            assert re.fullmatch(r"[a-z][a-z0-9_-]*", job_id), job_id
            assert job["runs-on"] == "docker", f"{name}: runners are registered with the label docker"
            images.add(job["container"]["image"])
            assert job["steps"], name
            for step in job["steps"]:
                assert step.get("name"), f"{name}: every step is named"
                assert ("uses" in step) != ("run" in step), f"{name}: {step['name']} needs exactly one of uses/run"
    assert len(images) == 1, f"one job image for all workflows, not {images}"


def test_triggers_tests_on_every_push_images_on_main_deploy_on_tags() -> None:
    flows = all_workflows()
    assert "push" in flows["test.yml"]["on"] and "pull_request" in flows["test.yml"]["on"]
    assert flows["test.yml"]["on"]["push"] in (None, {}), "tests run on every branch"
    assert flows["images.yml"]["on"] == {"push": {"branches": ["main"]}}
    assert flows["deploy.yml"]["on"] == {"push": {"tags": ["v*"]}}
    runs = [s["run"] for _, s in steps() if "run" in s]
    assert any("make test" in r for r in runs) and any("make lint" in r for r in runs)
    assert any("bootstrap.sh build" in r and "deploy" not in r for r in runs)
    assert any("bootstrap.sh build deploy" in r for r in runs)


def test_actions_are_pinned_to_a_release() -> None:
    for name, step in steps():
        if "uses" in step:
            assert re.fullmatch(r"https://code\.forgejo\.org/actions/[\w-]+@v\d+(\.\d+)*", step["uses"]), (name, step)


def test_commands_the_workflows_run_exist() -> None:
    makefile = (REPO / "Makefile").read_text()
    ci_tools = (SCRIPTS / "ci-tools.sh").read_text()
    tool_sets = set(re.findall(r"^    (\w+)\) ", ci_tools, re.M))
    bootstrap = (SCRIPTS / "bootstrap.sh").read_text()
    for name, step in steps():
        run = step.get("run", "")
        for target in re.findall(r"\bmake ([\w./-]+)", run):
            if target == ".venv/.installed":  # the virtualenv stamp: $(VENV)/.installed
                assert "STAMP := $(VENV)/.installed" in makefile and "\n$(STAMP):" in makefile
                continue
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"{name}: no make target {target}"
        for script in re.findall(r"\b(scripts/[\w./-]+\.sh)", run):
            assert os.access(REPO / script, os.X_OK), f"{name}: {script} missing or not executable"
        for args in re.findall(r"scripts/ci-tools\.sh ([\w ]+)", run):
            assert set(args.split()) <= tool_sets, f"{name}: ci-tools.sh has no tool set in {args}"
        for steps_named in re.findall(r"scripts/bootstrap\.sh ([\w -]+)", run):
            for s in steps_named.split():
                assert f"      {s}) step_" in bootstrap, f"{name}: bootstrap.sh has no step {s}"


def test_every_secret_a_workflow_reads_is_documented() -> None:
    operations = (REPO / "docs" / "OPERATIONS.md").read_text()
    used = set()
    for path in WORKFLOWS.glob("*.yml"):
        used |= set(re.findall(r"secrets\.(\w+)", path.read_text()))
    assert used
    for secret in sorted(used):
        assert f"`{secret}`" in operations, f"docs/OPERATIONS.md does not say what the secret {secret} is"


def test_forgejo_manifest_validates_with_the_pinned_image(shared_brief: Path) -> None:
    text = (REPO / "k8s" / "forgejo" / "forgejo.yaml").read_text()
    bootstrap = (SCRIPTS / "bootstrap.sh").read_text()
    assert "s|image: FORGEJO_IMAGE|image: $FORGEJO_IMAGE|" in bootstrap
    docs = load_yaml_docs_text(text.replace("image: FORGEJO_IMAGE", f"image: {versions()['FORGEJO_IMAGE']}"))
    kinds = {d["kind"] for d in docs}
    assert kinds == {"Namespace", "PersistentVolumeClaim", "Deployment", "Service"}
    errors = [
        e for d in docs for e in validate_manifest(d, shared_brief / "k8s-crds", kubernetes_version=kubernetes_minor())
    ]
    assert errors == []


def load_yaml_docs_text(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_workflows_are_plain_yaml_without_tabs_or_duplicate_keys(path: Path) -> None:
    text = path.read_text()
    assert "\t" not in text

    class Strict(yaml.SafeLoader):
        pass

    def no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [loader.construct_object(k) for k, _ in node.value]
        assert len(keys) == len(set(keys)), f"{path.name}: duplicate keys {keys}"
        return loader.construct_mapping(node)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, no_duplicates)
    assert yaml.load(text, Loader=Strict)
