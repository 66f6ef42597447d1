"""The kairos library as a wheel inside every function project, so ``func build`` finds it.

Knative's ``func build`` (host builder or Python buildpack) sees one function directory
and installs what that directory's ``pyproject.toml`` names. A bare ``kairos`` dependency
would resolve on PyPI to an unrelated project of the same name. So each function names
the library by a direct reference to a wheel kept in the project itself::

    dependencies = ["kairos @ {root:uri}/vendor/kairos-0.1.0-py3-none-any.whl"]

``{root:uri}`` is hatchling's context formatting: the project's own directory as a
``file:`` URI, expanded when the project is built, wherever it was copied (func copies or
links it into ``.func/builds/``; the image build copies it to ``/app/functions/<name>``).
Why a vendored wheel rather than a private index: it needs no service and no
credentials at build time, the library and the function always come from the same
commit, and the same file serves ``func build``, ``scripts/function.Dockerfile`` and CI.
The wheel is a build product (git-ignored): ``kairos manifests --wheel`` (part of
``make manifests``) builds it once and copies it into every ``functions/<name>/vendor/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from kairos.errors import ConfigError

VENDOR_DIR = "vendor"
#: How a function's pyproject names the library (``{version}`` filled from shared's pyproject).
DEPENDENCY_TEMPLATE = "kairos @ {{root:uri}}/vendor/{wheel}"


def library_version(root: Path) -> str:
    """The version of the kairos distribution, as the repository's pyproject.toml says."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    return str(data["project"]["version"])


def wheel_name(version: str) -> str:
    """The wheel file name setuptools gives a pure-Python ``kairos`` of ``version``."""
    return f"kairos-{version}-py3-none-any.whl"


def dependency_line(version: str) -> str:
    """The exact dependency string every function's pyproject.toml must hold."""
    return DEPENDENCY_TEMPLATE.format(wheel=wheel_name(version))


def build_library_wheel(root: Path, out_dir: Path) -> Path:
    """Build the kairos wheel from ``root`` into ``out_dir``; return its path.

    The build runs on a clean copy of ``pyproject.toml``, ``README.md`` and ``shared/kairos``
    (setuptools reuses a ``build/`` directory, which would carry deleted modules into the
    wheel), with pip's isolated build: the backend (setuptools, from PyPI or pip's cache) does
    not depend on what the calling virtualenv holds.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = out_dir / wheel_name(library_version(root))
    expected.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="kairos-wheel-") as tmp:
        src = Path(tmp) / "src"
        (src / "shared").mkdir(parents=True)
        for name in ("pyproject.toml", "README.md"):
            if (root / name).exists():
                shutil.copyfile(root / name, src / name)
        shutil.copytree(
            root / "shared" / "kairos",
            src / "shared" / "kairos",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
        )
        dist = Path(tmp) / "dist"
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(src)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ConfigError(f"building the kairos wheel from {root} failed:\n{proc.stderr.strip()[-2000:]}")
        built = sorted(dist.glob("kairos-*.whl"))
        if [p.name for p in built] != [expected.name]:
            raise ConfigError(f"expected {expected.name} from pip wheel, got {[p.name for p in built]}")
        shutil.copyfile(built[0], expected)
    return expected


def function_projects(root: Path) -> list[Path]:
    """Every ``functions/<name>/`` holding a pyproject.toml."""
    return sorted(p.parent for p in (root / "functions").glob("*/pyproject.toml"))


def declared_dependencies(project: Path) -> list[str]:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    return [str(d) for d in data.get("project", {}).get("dependencies", [])]


def misdeclared(root: Path) -> list[str]:
    """Function projects whose pyproject does not name the vendored wheel of this version.

    Each problem names the project and what to write instead.
    """
    want = dependency_line(library_version(root))
    problems = []
    for project in function_projects(root):
        deps = declared_dependencies(project)
        kairos_deps = [d for d in deps if re.match(r"kairos\b", d)]
        if kairos_deps != [want]:
            problems.append(f"{project.name}/pyproject.toml: kairos dependency {kairos_deps} should be [{want!r}]")
        text = (project / "pyproject.toml").read_text()
        if not re.search(r"^allow-direct-references\s*=\s*true", text, re.M):
            problems.append(
                f"{project.name}/pyproject.toml: needs [tool.hatch.metadata] allow-direct-references = true"
            )
    return problems


def vendor(root: Path, wheel: Path) -> list[Path]:
    """Copy ``wheel`` into every function project's vendor/ (older kairos wheels removed)."""
    written = []
    for project in function_projects(root):
        target_dir = project / VENDOR_DIR
        target_dir.mkdir(exist_ok=True)
        for old in target_dir.glob("kairos-*.whl"):
            if old.name != wheel.name:
                old.unlink()
        target = target_dir / wheel.name
        shutil.copyfile(wheel, target)
        written.append(target)
    return written
