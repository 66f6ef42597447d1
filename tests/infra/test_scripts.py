"""Operator scripts: bash -n, shellcheck, strict mode, clear messages for missing
prerequisites, and the Secret renderer they use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from kairos.deploy.secrets import MissingSecretValues, main, read_env_file, render
from kairos_testkit.infra_files import APP, SCRIPTS, load_yaml_docs, tool
from kairos_testkit.paths import REPO

SHELL_SCRIPTS = sorted(SCRIPTS.rglob("*.sh"))
EXECUTABLES = [p for p in SHELL_SCRIPTS if "lib" not in p.parts]


def test_scripts_exist_and_are_executable() -> None:
    names = {p.name for p in EXECUTABLES}
    assert {"bootstrap.sh", "ensure-test-tools.sh"} <= names
    for path in EXECUTABLES:
        assert os.access(path, os.X_OK), f"{path} is not executable"
        text = path.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), path
        assert "\nset -euo pipefail\n" in text, f"{path} lacks set -euo pipefail"


@pytest.mark.parametrize("path", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_bash_syntax(path: Path) -> None:
    proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_shellcheck_is_clean() -> None:
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (scripts/ensure-test-tools.sh installs it)")
    proc = subprocess.run(
        [shellcheck, "-x", *map(str, SHELL_SCRIPTS)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stdout


def _run_with_path(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run bootstrap.sh with a PATH that has only the basics, so prerequisites are missing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("dirname", "cat", "sed", "awk", "git", "id"):
        found = tool(name)
        if found and not (bin_dir / name).exists():
            (bin_dir / name).symlink_to(found)
    full_env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "KAIROS_STATE_DIR": str(tmp_path / "state")}
    full_env.update(env or {})
    return subprocess.run(
        ["/bin/bash", str(SCRIPTS / "bootstrap.sh"), *args], capture_output=True, text=True, env=full_env, timeout=60
    )


@pytest.mark.parametrize(
    ("step", "missing"),
    [("infra-up", "terraform"), ("platform-up", "kubectl"), ("deploy", "kubectl"), ("infra-down", "terraform")],
)
def test_missing_prerequisite_is_named(step: str, missing: str, tmp_path: Path) -> None:
    proc = _run_with_path(tmp_path, step)
    assert proc.returncode != 0
    assert f"'{missing}' is required but not installed" in proc.stderr, proc.stderr


def test_missing_env_file_is_explained(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "terraform").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "terraform").chmod(0o755)
    for name in ("ssh", "curl", "kubectl"):
        (bin_dir / name).symlink_to(bin_dir / "terraform")
    proc = _run_with_path(tmp_path, "infra-up", env={"KAIROS_ENV_FILE": str(tmp_path / "nope.env")})
    assert proc.returncode != 0
    assert "bootstrap-secrets.env.example" in proc.stderr, proc.stderr


def _stub(bin_dir: Path, *names: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    for name in names:
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)


def test_missing_kn_is_named(tmp_path: Path) -> None:
    _stub(tmp_path / "bin", "kubectl")
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    proc = _run_with_path(tmp_path, "deploy", env={"KAIROS_KUBECONFIG": str(tmp_path / "kubeconfig")})
    assert proc.returncode != 0
    assert "'kn' is required but not installed" in proc.stderr, proc.stderr


def test_missing_registry_login_is_named(tmp_path: Path) -> None:
    _stub(tmp_path / "bin", "docker")
    env_file = tmp_path / "secrets.env"
    env_file.write_text("REGISTRY=registry.example.com/kairos\n")
    proc = _run_with_path(tmp_path, "build", env={"KAIROS_ENV_FILE": str(env_file)})
    assert proc.returncode != 0
    assert "not logged in to the registry registry.example.com" in proc.stderr, proc.stderr
    assert "docker login registry.example.com" in proc.stderr


def test_unknown_step_is_refused(tmp_path: Path) -> None:
    proc = _run_with_path(tmp_path, "launch-rockets")
    assert proc.returncode != 0 and "unknown step 'launch-rockets'" in proc.stderr


def test_help_lists_the_steps(tmp_path: Path) -> None:
    proc = _run_with_path(tmp_path, "--help")
    assert proc.returncode == 0
    for step in ("infra-up", "platform-up", "build", "deploy", "infra-down"):
        assert step in proc.stdout


def test_makefile_targets_call_the_bootstrap() -> None:
    makefile = (REPO / "Makefile").read_text()
    for target in ("infra-up", "platform-up", "deploy", "infra-down"):
        assert f"\n{target}:" in makefile or f"\n{target}: " in makefile, target
        assert "scripts/bootstrap.sh" in makefile


def test_dockerfile_installs_shared_as_a_package_for_one_function() -> None:
    text = (SCRIPTS / "function.Dockerfile").read_text()
    assert "ARG FUNCTION" in text and "COPY functions/${FUNCTION}/" in text
    # the library comes from the function project's vendored wheel, as under `func build`
    assert 'pip install "/app/functions/${FUNCTION}"' in text and "COPY shared/" not in text
    assert "ln -s" not in text, "never symlink shared/"
    assert "USER 65532" in text


# --- kairos.deploy.secrets -----------------------------------------------------------------


def _template(name: str) -> dict[str, object]:
    (doc,) = load_yaml_docs(APP / "secrets" / name)
    return doc


def test_render_fills_values_from_prefixed_variables() -> None:
    values = {"PG_BACKUP_S3_ACCESS_KEY_ID": "a", "PG_BACKUP_S3_ACCESS_SECRET_KEY": "b"}
    out = render(_template("pg-backup-s3.yaml"), values)
    assert out["stringData"] == {"ACCESS_KEY_ID": "a", "ACCESS_SECRET_KEY": "b"}
    assert "annotations" not in out["metadata"], "the template's bookkeeping annotations are dropped"


def test_render_names_missing_variables_but_not_values() -> None:
    with pytest.raises(MissingSecretValues, match="PG_BACKUP_S3_ACCESS_SECRET_KEY") as err:
        render(_template("pg-backup-s3.yaml"), {"PG_BACKUP_S3_ACCESS_KEY_ID": "topsecret"})
    assert "topsecret" not in str(err.value)


def test_render_allows_optional_keys_to_be_absent() -> None:
    out = render(_template("exchange-key-encryption.yaml"), {"SECRET_KAIROS_EXCHANGE_KEK": "k1:AAAA"})
    assert out["stringData"] == {"KAIROS_EXCHANGE_KEK": "k1:AAAA"}


def test_env_file_parsing(tmp_path: Path) -> None:
    env = tmp_path / "x.env"
    env.write_text("# comment\n\nexport A=1\nB='two words'\nC=\"3\"\nD=\n")
    assert read_env_file(env) == {"A": "1", "B": "two words", "C": "3", "D": ""}
    env.write_text("not a pair\n")
    with pytest.raises(ValueError, match=r"x\.env:1"):
        read_env_file(env)


def test_cli_renders_every_template_or_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    example = REPO / "scripts" / "hetzner" / "bootstrap-secrets.env.example"
    filled = "\n".join(line + "x" if line.endswith("=") else line for line in example.read_text().splitlines())
    env = tmp_path / "bootstrap-secrets.env"
    env.write_text(filled + "\n")
    templates = [str(p) for p in sorted((APP / "secrets").glob("*.yaml"))]
    assert main(["--env-file", str(env), *templates]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert {d["metadata"]["name"] for d in docs} == {
        "kairos-exchange-kek",
        "kairos-pg-backup-s3",
        "kairos-archive-s3",
        "kairos-alert-webhook",
        "kairos-api",
        "grafana-admin",
    }
    env.write_text("")
    for key in [k for k in os.environ if k.startswith(("PG_BACKUP_S3_", "SECRET_", "ARCHIVE_"))]:
        monkeypatch.delenv(key)
    assert main(["--env-file", str(env), *templates]) == 2
    assert "PG_BACKUP_S3_ACCESS_KEY_ID" in capsys.readouterr().err
    assert main(["--env-file", str(tmp_path / "absent.env"), *templates]) == 2


def test_build_context_excludes_local_state_and_secrets() -> None:
    lines = (SCRIPTS / "function.Dockerfile.dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", "allow-list: everything is excluded first"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "shared", "functions"}
    assert "**/*.env" in rules


@pytest.mark.parametrize("with_kustomization", [False, True])
def test_render_points_generated_manifests_at_the_pushed_images(tmp_path: Path, with_kustomization: bool) -> None:
    """`bootstrap.sh render` = what deploy applies: kairos-<fn> -> $REGISTRY/kairos-<fn>:<tag>."""
    kubectl = tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (its kustomize renders the manifests)")
    knative, functions = tmp_path / "knative", tmp_path / "functions"
    knative.mkdir()
    for fn in ("executor", "reactor"):
        (functions / fn).mkdir(parents=True)
        (knative / f"{fn}.yaml").write_text(
            "apiVersion: serving.knative.dev/v1\nkind: Service\n"
            f"metadata:\n  name: {fn}\n  namespace: kairos\n"
            f"spec:\n  template:\n    spec:\n      containers:\n        - image: kairos-{fn}\n"
        )
    if with_kustomization:
        (knative / "kustomization.yaml").write_text("resources:\n  - executor.yaml\n  - reactor.yaml\n")
    env_file = tmp_path / "s.env"
    env_file.write_text("REGISTRY=registry.example.com/kairos\n")
    proc = subprocess.run(
        [str(SCRIPTS / "bootstrap.sh"), "render"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "KAIROS_KNATIVE_DIR": str(knative),
            "KAIROS_FUNCTIONS_DIR": str(functions),
            "KAIROS_ENV_FILE": str(env_file),
            "KAIROS_STATE_DIR": str(tmp_path / "state"),
            "IMAGE_TAG": "0123abcd",
        },
    )
    assert proc.returncode == 0, proc.stderr
    images = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in yaml.safe_load_all(proc.stdout)
    }
    assert images == {
        "executor": "registry.example.com/kairos/kairos-executor:0123abcd",
        "reactor": "registry.example.com/kairos/kairos-reactor:0123abcd",
    }
