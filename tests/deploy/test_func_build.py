"""Each function project builds the way Knative's ``func build`` builds it, and serves events.

``func build`` (host builder or Python buildpack) sees one function directory: it installs
what that directory's pyproject.toml names and runs func's scaffolding, which imports
``function.new`` and hands it to ``func_python.cloudevent.serve``. Here each project is
copied alone into an empty folder with the vendored library wheel (what
``kairos manifests --wheel`` puts there), installed from that folder into a fresh
virtualenv (PyPI only for third-party packages), and served the same way.

Speed: the wheel is built once; pip's cache is shared; all function projects name the same
dependencies (only the vendored kairos wheel), so there is one virtualenv per distinct
dependency set (today one): its first project is installed with full resolution, each
other one is reinstalled into it (project and the kairos wheel its pyproject names) from its
own folder and ``pip check`` confirms its requirements hold, just before it is served.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from kairos.catalog import load_catalog
from kairos.contracts.codec import to_http_binary
from kairos.deploy.wheels import (
    VENDOR_DIR,
    build_library_wheel,
    declared_dependencies,
    dependency_line,
    function_projects,
    library_version,
    misdeclared,
)
from kairos.localinfra.ports import free_port
from kairos_testkit.events import quote_event
from kairos_testkit.functions import catalog_env, runtime_env
from kairos_testkit.paths import REPO

#: What func's scaffolding (service/main.py) does with the installed project, per ``invoke``.
SCAFFOLD_MAIN = "from function import new\nfrom func_python.{module} import serve\nserve(new)\n"
#: Functions that need a service this test does not run to become ready (a venue to read).
NEEDS_VENUE = {"clock-guard", "candles-cron", "executor", "reconciler"}
#: Secrets (catalog ``secrets``) whose variables this test can do without; a function that
#: mounts any other Secret needs values only the cluster has: installed and imported, not served.
SECRETS_NOT_NEEDED = {"kairos-alert-webhook"}


def test_every_function_names_the_vendored_wheel_not_pypi() -> None:
    assert misdeclared(REPO) == []
    want = dependency_line(library_version(REPO))
    for project in function_projects(REPO):
        assert want in declared_dependencies(project), project.name
    assert "functions/*/vendor/" in (REPO / ".gitignore").read_text().splitlines()


def test_a_bare_kairos_dependency_is_refused(tmp_path: Path) -> None:
    (tmp_path / "functions" / "x").mkdir(parents=True)
    shutil.copyfile(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "functions" / "x" / "pyproject.toml").write_text(
        '[project]\nname="function"\ndependencies=["kairos"]\n'
    )
    problems = misdeclared(tmp_path)
    assert any("should be" in p for p in problems) and any("allow-direct-references" in p for p in problems)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library_wheel(REPO, tmp_path_factory.mktemp("wheel"))


def _pip(python: Path, *args: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _isolated_copy(project: Path, wheel: Path, into: Path) -> Path:
    """The project alone in an empty folder, plus the vendored wheel (as `make manifests` leaves it)."""
    target = into / project.name
    shutil.copytree(project, target, ignore=shutil.ignore_patterns("__pycache__", VENDOR_DIR))
    (target / VENDOR_DIR).mkdir()
    shutil.copyfile(wheel, target / VENDOR_DIR / wheel.name)
    return target


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, ...], Path]]:
    """One fresh virtualenv per distinct dependency set of the function projects."""
    made: dict[tuple[str, ...], Path] = {}
    for project in function_projects(REPO):
        key = tuple(sorted(declared_dependencies(project)))
        if key not in made:
            where = tmp_path_factory.mktemp("venv")
            venv.EnvBuilder(with_pip=True, clear=True).create(where)
            made[key] = where / "bin" / "python"
            # The build backend every project names (pip would fetch it per build otherwise).
            _pip(made[key], "install", "--quiet", "hatchling")
    yield made


def _invoke(project: Path) -> str:
    """``cloudevent`` or ``http``: which func-python middleware func's scaffolding uses."""
    return str(yaml.safe_load((project / "func.yaml").read_text()).get("invoke", "http"))


def _serve(python: Path, env: dict[str, str], log: Path, invoke: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(python), "-c", SCAFFOLD_MAIN.format(module="cloudevent" if invoke == "cloudevent" else "http")],
        env={"PATH": os.environ["PATH"], **env, "LISTEN_ADDRESS": f"127.0.0.1:{port}"},
        cwd=log.parent,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/health/readiness", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # ~3 min alone on 2 cores (a fresh virtualenv resolved once, 15+ projects served)
def test_each_function_project_installs_alone_and_serves_an_event(
    wheel: Path,
    venvs: dict[tuple[str, ...], Path],
    database_url: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    served = []
    resolved: set[Path] = set()
    for project in function_projects(REPO):
        copy = _isolated_copy(project, wheel, tmp_path / "projects")
        python = venvs[tuple(sorted(declared_dependencies(copy)))]
        if python not in resolved:  # the first project of a dependency set resolves it from PyPI
            _pip(python, "install", "--quiet", "--no-build-isolation", str(copy))
            resolved.add(python)
        # the same dependency list: reinstall the project and the wheel it names, then check
        _pip(python, "install", "--quiet", "--no-build-isolation", "--force-reinstall", "--no-deps", str(copy))
        _pip(python, "check")
        # Nothing from the checkout: the installed kairos is the vendored wheel's.
        where = subprocess.run(
            [str(python), "-c", "import kairos, function; print(kairos.__file__); print(function.__file__)"],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        ).stdout
        assert str(REPO) not in where and "site-packages" in where, where
        secrets = set(load_catalog().function(project.name).secrets)
        if project.name in NEEDS_VENUE or not secrets <= SECRETS_NOT_NEEDED:
            continue
        env = {**catalog_env(project.name), **runtime_env(database_url, kafka_bootstrap)}
        log = tmp_path / f"{project.name}.log"
        invoke = _invoke(project)
        proc, url = _serve(python, env, log, invoke)
        try:
            _wait_ready(proc, url, log)
            if project.name == "normalize-near-intents":
                headers, body = to_http_binary(quote_event("func-build-1"))
                assert httpx.post(url, headers=headers, content=body, timeout=30).status_code < 300, log.read_text()
                with psycopg.connect(database_url) as conn:
                    row = conn.execute("SELECT count(*) FROM outbox").fetchone()
                assert row is not None and row[0] >= 1
            elif invoke != "cloudevent":  # an HTTP function: a plain request reaches its handler
                assert httpx.get(url + "/", timeout=30).status_code < 500, log.read_text()[-2000:]
            else:
                # Any event reaches the function's own handler through func-python: a type it does
                # not take is refused with a 4xx naming the reason, never a 5xx.
                headers = {
                    "ce-id": "x-1",
                    "ce-source": "/test",
                    "ce-type": "kairos.test.unknown",
                    "ce-specversion": "1.0",
                    "ce-time": "2026-01-01T00:00:00Z",
                    "content-type": "application/json",
                }
                resp = httpx.post(url, headers=headers, content=b"{}", timeout=30)
                assert resp.status_code < 500, (project.name, resp.status_code, resp.text)
            served.append(project.name)
        finally:
            _stop(proc)
    assert "normalize-near-intents" in served and len(served) >= 8, served
    assert sys.version_info >= (3, 11)
