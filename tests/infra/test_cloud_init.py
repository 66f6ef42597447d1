"""Cloud-init templates: valid #cloud-config YAML once rendered, pinned k3s, Traefik off,
every placeholder supplied by main.tf, embedded scripts clean under bash -n/shellcheck."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kairos_testkit.infra_files import TF_DIR, tool, versions

TEMPLATES = {
    "server": TF_DIR / "templates" / "server-cloud-init.yaml.tftpl",
    "agent": TF_DIR / "templates" / "agent-cloud-init.yaml.tftpl",
}
SAMPLE = {
    "k3s_version": "v1.34.2+k3s1",
    "k3s_version_url": "v1.34.2%2Bk3s1",
    "k3s_token": "sampletoken0123456789",
    "public_ipv4": "203.0.113.10",
    "private_ip": "10.0.1.10",
    "server_private_ip": "10.0.1.10",
    "volume_id": "123456",
    "cluster_name": "kairos",
    "data_directory": "/var/lib/kairos",
}
_PLACEHOLDER = re.compile(r"(?<!\$)\$\{([a-z_0-9]+)\}")


def _templatefile_keys(template_name: str) -> set[str]:
    """Keys of the map main.tf passes to templatefile() for one template."""
    text = (TF_DIR / "main.tf").read_text()
    call = r'templatefile\("\$\{path\.module\}/templates/' + re.escape(template_name)
    match = re.search(call + r'", \{(.*?)\n\s*\}\)', text, re.S)
    assert match, f"main.tf does not render {template_name}"
    return set(re.findall(r"^\s*([a-z_0-9]+)\s*=", match[1], re.M))


def _render_python(path: Path) -> str:
    text = path.read_text()
    assert "%{" not in text, "template directives are not used (keeps the Python renderer honest)"
    return _PLACEHOLDER.sub(lambda m: SAMPLE[m[1]], text).replace("$${", "${")


def _render(path: Path) -> str:
    """With terraform installed, render exactly as Terraform does (terraform console, offline)."""
    terraform = tool("terraform")
    if terraform is None:
        return _render_python(path)
    values = ", ".join(f'{k} = "{v}"' for k, v in SAMPLE.items() if k in _PLACEHOLDER.findall(path.read_text()))
    expr = f'templatefile("{path}", {{ {values} }})'
    proc = subprocess.run(
        [terraform, "console"], input=expr, capture_output=True, text=True, timeout=120, cwd=path.parent
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    assert out.startswith("<<EOT") and out.endswith("EOT"), out[:200]
    return out[len("<<EOT") :].rstrip()[: -len("EOT")].lstrip("\n")


@pytest.fixture(scope="module", params=sorted(TEMPLATES))
def rendered(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, _render(TEMPLATES[request.param])


def test_placeholders_match_what_main_tf_passes() -> None:
    for name, path in TEMPLATES.items():
        used = set(_PLACEHOLDER.findall(path.read_text()))
        passed = _templatefile_keys(path.name)
        assert used == passed, f"{name}: template uses {sorted(used)}, main.tf passes {sorted(passed)}"


def test_rendered_is_cloud_config_yaml(rendered: tuple[str, str]) -> None:
    _, text = rendered
    assert text.splitlines()[0] == "#cloud-config"
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    assert {"write_files", "runcmd"} <= set(doc)


def _files(text: str) -> dict[str, Any]:
    return {f["path"]: f for f in yaml.safe_load(text)["write_files"]}


def test_k3s_config_is_private_and_server_disables_traefik(rendered: tuple[str, str]) -> None:
    name, text = rendered
    cfg_file = _files(text)["/etc/rancher/k3s/config.yaml"]
    assert cfg_file["permissions"] == "0600"
    cfg = yaml.safe_load(cfg_file["content"])
    assert cfg["node-ip"] == SAMPLE["private_ip"]
    assert cfg["token"] == SAMPLE["k3s_token"]
    if name == "server":
        assert "traefik" in cfg["disable"]
        assert "servicelb" not in cfg.get("disable", []), "Kourier's LoadBalancer needs ServiceLB"
        assert SAMPLE["public_ipv4"] in cfg["tls-san"]
        assert cfg["default-local-storage-path"].startswith(SAMPLE["data_directory"])
    else:
        assert cfg["server"] == f"https://{SAMPLE['server_private_ip']}:6443"


def test_setup_script_installs_the_pinned_k3s_and_passes_shell_checks(
    rendered: tuple[str, str], tmp_path: Path
) -> None:
    name, text = rendered
    setup = _files(text)["/usr/local/sbin/kairos-node-setup"]
    script = setup["content"]
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert f'INSTALL_K3S_VERSION="{SAMPLE["k3s_version"]}"' in script
    assert f"k3s-io/k3s/{SAMPLE['k3s_version_url']}/install.sh" in script, "install.sh must come from the pinned tag"
    if name == "server":
        assert "install -d -m 0700" in script and "/local-path" in script, "persistence directories"
    path = tmp_path / f"{name}-setup.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (scripts/ensure-test-tools.sh installs it)")
    proc = subprocess.run([shellcheck, str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_terraform_reads_k3s_version_from_the_versions_file() -> None:
    main = (TF_DIR / "main.tf").read_text()
    assert 'coalesce(var.k3s_version, local.pinned["K3S_VERSION"])' in main
    pattern = re.search(r'regexall\("(.*?)", file\(local\.versions_file\)\)', main)
    assert pattern
    # The same RE2 pattern under Python's re (HCL string escapes undone).
    python_re = re.compile(pattern[1].replace("\\\\", "\\"))
    versions_text = (TF_DIR.parents[2] / "k8s/platform/versions.conf").read_text()
    assert dict(python_re.findall(versions_text)) == versions()
    terraform = tool("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed: the regex was checked by Python only")
    expr = (
        f'{{ for m in regexall("{pattern[1]}", file("{TF_DIR.parents[2] / "k8s/platform/versions.conf"}")) '
        f": m[0] => m[1] }}"
    )
    proc = subprocess.run([terraform, "console"], input=expr, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    parsed = dict(re.findall(r'"([A-Z0-9_]+)" = "([^"]*)"', proc.stdout))
    assert parsed == versions()


def test_python_fallback_renders_like_terraform() -> None:
    """Where terraform is absent (CI), the Python renderer stands in; prove it is faithful."""
    if tool("terraform") is None:
        pytest.skip("terraform is not installed: nothing to compare the Python renderer with")
    for path in TEMPLATES.values():
        assert _render(path).rstrip("\n") == _render_python(path).rstrip("\n")
