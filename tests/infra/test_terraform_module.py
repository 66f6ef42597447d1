"""infra/terraform/hetzner: parses, pinned, validated variables, no secrets, sane firewall."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from kairos_testkit.infra_files import TF_DIR, tool, versions
from kairos_testkit.paths import REPO

TF_FILES = sorted(TF_DIR.glob("*.tf"))


def _clean(node: Any) -> Any:
    """Drop python-hcl2's bookkeeping keys (__is_block__, __comments__)."""
    if isinstance(node, dict):
        return {k: _clean(v) for k, v in node.items() if not str(k).startswith("__")}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def _parse(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return _clean(hcl2.load(fh))  # type: ignore[no-any-return]


def _blocks(kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in TF_FILES:
        found.extend(_parse(path).get(kind, []))
    return found


def _unquote(value: Any) -> Any:
    """python-hcl2 8 keeps the quotes of string literals."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _variables() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for block in _blocks("variable"):
        for name, body in block.items():
            out[_unquote(name)] = body
    return out


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for block in _blocks("resource"):
        for rtype, named in block.items():
            if _unquote(rtype) == kind:
                out.update({_unquote(k): v for k, v in named.items()})
    return out


def test_every_tf_file_parses() -> None:
    assert {p.name for p in TF_FILES} >= {"versions.tf", "variables.tf", "main.tf", "outputs.tf", "providers.tf"}
    for path in [*TF_FILES, TF_DIR / "backend.tf.example"]:
        with path.open() as fh:
            assert isinstance(hcl2.load(fh), dict), path


def test_variables_have_description_type_and_validation() -> None:
    variables = _variables()
    assert variables
    for name, body in variables.items():
        assert _unquote(body.get("description", "")).strip(), f"variable {name} has no description"
        assert "type" in body, f"variable {name} has no type"
        typ = str(body["type"])
        if "bool" not in typ and name not in {"versions_file", "kubeconfig_path"}:
            assert body.get("validation"), f"variable {name} has no validation block"


def test_token_is_sensitive_and_has_no_default() -> None:
    token = _variables()["hcloud_token"]
    assert token.get("sensitive") is True
    assert "default" not in token
    assert "default" not in _variables()["operator_cidrs"], "the operator must choose who reaches SSH and the API"


def test_providers_are_pinned_exactly_and_match_versions_file() -> None:
    pins = versions()
    (terraform,) = _parse(TF_DIR / "versions.tf")["terraform"]
    assert _unquote(terraform["required_version"]) == f">= {pins['TERRAFORM_MIN_VERSION']}"
    providers: dict[str, Any] = {}
    for block in terraform["required_providers"]:
        providers.update(block)
    assert {k: _unquote(v["source"]) for k, v in providers.items()} == {
        "hcloud": "hetznercloud/hcloud",
        "random": "hashicorp/random",
    }
    for name, spec in providers.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", _unquote(spec["version"])), f"provider {name} is not pinned exactly"
    assert _unquote(providers["hcloud"]["version"]) == pins["HCLOUD_PROVIDER_VERSION"]
    assert _unquote(providers["random"]["version"]) == pins["RANDOM_PROVIDER_VERSION"]


def test_modules_are_pinned() -> None:
    for block in _blocks("module"):
        for name, body in block.items():
            source = _unquote(body["source"])
            pinned = "version" in body or "?ref=" in source or source.startswith("./")
            assert pinned, f"module {name} ({source}) is not pinned"


_SECRET_PATTERNS = [
    re.compile(r"\b[A-Za-z0-9]{64}\b"),  # a Hetzner API token
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"(?i)\b(token|password|secret|access_key|secret_key)\s*=\s*\"[^\"$]+\""),
]


def test_no_literal_secrets_in_terraform() -> None:
    for path in sorted(TF_DIR.rglob("*")):
        if not path.is_file() or ".terraform" in path.parts:
            continue
        text = path.read_text()
        for pattern in _SECRET_PATTERNS:
            where = path.relative_to(REPO)
            assert not pattern.search(text), f"{where} looks like it holds a secret ({pattern.pattern})"


def test_tfvars_example_sets_only_declared_variables_and_no_token() -> None:
    example = _parse(TF_DIR / "terraform.tfvars.example")
    declared = set(_variables())
    assert set(example) <= declared, set(example) - declared
    assert "hcloud_token" not in example
    assert {"operator_cidrs", "agent_count", "server_type"} <= set(example)


def test_firewall_opens_ssh_and_api_to_operators_only() -> None:
    (firewall,) = _resources("hcloud_firewall").values()
    rules = {(_unquote(r["protocol"]), _unquote(r.get("port", ""))): r for r in firewall["rule"]}
    for port in ("22", "6443"):
        assert "var.operator_cidrs" in str(rules[("tcp", port)]["source_ips"]), f"port {port} must be operator-only"
    for port in ("80", "443"):
        assert "0.0.0.0/0" in str(rules[("tcp", port)]["source_ips"])
    assert {p for _, p in rules} <= {"22", "6443", "80", "443", ""}, "unexpected open port"
    assert all(_unquote(r["direction"]) == "in" for r in firewall["rule"])


def test_agents_join_over_the_private_network() -> None:
    agent = _resources("hcloud_server")["agent"]
    assert str(agent["count"]) == "${var.agent_count}"
    assert "server_private_ip" in str(agent["user_data"])
    text = (TF_DIR / "templates" / "agent-cloud-init.yaml.tftpl").read_text()
    assert 'server: "https://${server_private_ip}:6443"' in text


def test_outputs_cover_ips_and_kubeconfig() -> None:
    names = {_unquote(k) for block in _blocks("output") for k in block}
    assert {"server_ipv4", "server_private_ip", "agent_ipv4", "kubeconfig_path", "kubeapi_url"} <= names
    for block in _blocks("output"):
        for name, body in block.items():
            assert _unquote(body.get("description", "")), f"output {name} has no description"


def test_terraform_fmt_is_clean() -> None:
    terraform = tool("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed (optional: only `terraform fmt -check` needs it)")
    proc = subprocess.run(
        [terraform, "fmt", "-check", "-diff", "-recursive", str(TF_DIR)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_references_resolve_without_terraform_validate() -> None:
    """`terraform validate` needs the providers (no network here): check names ourselves."""
    text = "\n".join(p.read_text() for p in TF_FILES)
    templates = "\n".join(p.read_text() for p in (TF_DIR / "templates").glob("*.tftpl"))
    declared_vars = set(_variables())
    used_vars = set(re.findall(r"\bvar\.([a-z_0-9]+)", text))
    assert used_vars <= declared_vars, f"undeclared variables: {used_vars - declared_vars}"
    assert declared_vars <= used_vars, f"unused variables: {declared_vars - used_vars}"
    locals_block = re.search(r"^locals \{\n(.*?)^\}", (TF_DIR / "main.tf").read_text(), re.M | re.S)
    assert locals_block
    declared_locals = set(re.findall(r"^  ([a-z_0-9]+)\s*=", locals_block[1], re.M))
    used_locals = set(re.findall(r"\blocal\.([a-z_0-9]+)", text))
    assert used_locals <= declared_locals, f"undefined locals: {used_locals - declared_locals}"
    resources = {(m[0], m[1]) for m in re.findall(r'^resource "([a-z_0-9]+)" "([a-z_0-9]+)"', text, re.M)}
    refs = set(re.findall(r"\b((?:hcloud|random)_[a-z_]+)\.([a-z_0-9]+)\b", text))
    assert refs <= resources, f"references to undeclared resources: {refs - resources}"
    assert "var." not in templates, "templates get values only through templatefile()"
