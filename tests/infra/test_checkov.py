"""checkov (offline, --skip-download) over the Terraform module, the Kubernetes layers, the
scripts and the Dockerfile: no failed check, and every skip carries its reason next to
the resource it concerns.

Note: checkov has no Hetzner-specific policies; on infra/terraform it runs its generic
ones (secrets, module pinning). The Hetzner rules (firewall, token, pins) are asserted by
test_terraform_module.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
from kairos_testkit.infra_files import APP, PLATFORM, SCRIPTS, TF_DIR, tool
from kairos_testkit.paths import REPO

SCANNED = [TF_DIR, PLATFORM, APP, SCRIPTS]
_SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def _reports(stdout: str) -> list[dict[str, Any]]:
    """checkov prints one JSON value per scanned directory, back to back."""
    decoder, pos, out = json.JSONDecoder(), 0, []
    text = stdout.strip()
    while pos < len(text):
        value, end = decoder.raw_decode(text, pos)
        out.extend(value if isinstance(value, list) else [value])
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


@pytest.fixture(scope="module")
def checkov_reports() -> list[dict[str, Any]]:
    checkov = tool("checkov")
    if checkov is None:
        pytest.skip("checkov is not installed (scripts/ensure-test-tools.sh puts it in .venv-tools/)")
    args = [checkov, "--skip-download", "--quiet", "-o", "json"]
    for path in SCANNED:
        args += ["-d", str(path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180, cwd=REPO)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return _reports(proc.stdout)


def test_checkov_finds_no_failed_check(checkov_reports: list[dict[str, Any]]) -> None:
    failures = []
    for report in checkov_reports:
        summary = report.get("summary", report)
        assert summary["parsing_errors"] == 0, report.get("check_type")
        for check in report.get("results", {}).get("failed_checks", []):
            failures.append(f"{check['check_id']} {check['file_path']}:{check['resource']}: {check['check_name']}")
    assert failures == []
    assert any(r.get("check_type") == "kubernetes" for r in checkov_reports), "the manifests were not scanned"
    assert any(r.get("check_type") == "dockerfile" for r in checkov_reports), "the Dockerfile was not scanned"


def test_every_skip_is_justified_where_it_applies() -> None:
    found = 0
    for root in SCANNED:
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            for match in _SKIP.finditer(path.read_text(errors="replace")):
                found += 1
                reason = (match[2] or "").strip()
                assert len(reason) >= 20, f"{path.relative_to(REPO)}: skip of {match[1]} without a real reason"
    assert found >= 1  # the Dockerfile's base-image build arg (CKV_DOCKER_7)
