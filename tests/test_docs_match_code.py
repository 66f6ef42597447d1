"""Statements of docs/ and the README that a machine can check against the code:

- every alert code in docs/OPERATIONS.md's alert table is raised somewhere in the code, and
  every alert the code raises (``Alert(code=...)``) is in that table;
- every ``kairos <subcommand>`` the docs name exists;
- every ``KAIROS_*`` variable the docs name is read by the code, the catalog, the scripts or
  the manifests;
- every network-policy label and Secret the operations guide tells operators to use exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from kairos.cli import COMMANDS
from kairos_testkit.paths import REPO

DOCS = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
PRODUCTION = sorted((REPO / "shared" / "kairos").rglob("*.py")) + sorted((REPO / "functions").rglob("*.py"))
#: Variables of worked examples (docs/ADDING_A_STAGE.md builds a stage that does not exist).
EXAMPLE_ONLY = {"KAIROS_SPREAD_BAND"}
CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def string_constants() -> set[str]:
    """Every string literal of production code that looks like an alert code (docstrings excluded)."""
    found = set()
    for path in PRODUCTION:
        tree = ast.parse(path.read_text(), str(path))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            value = node.value if isinstance(node, ast.Constant) and id(node) not in skip else None
            if isinstance(value, str) and CODE.match(value):
                found.add(value)
    return found


def raised_codes() -> set[str]:
    """``code=`` of every ``Alert(...)`` built with a literal code."""
    found = set()
    for path in PRODUCTION:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Alert":
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        found.add(kw.value.value)
    return found


def documented_codes() -> set[str]:
    text = (REPO / "docs" / "OPERATIONS.md").read_text()
    table = text[text.index("## 10. Alerts") :]
    table = table[: table.index("\n## ", 5)]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {code for row in rows for code in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_every_documented_alert_is_raised() -> None:
    missing = documented_codes() - string_constants()
    assert not missing, f"docs/OPERATIONS.md lists alerts no code raises: {sorted(missing)}"


def test_every_raised_alert_is_documented() -> None:
    raised = raised_codes()
    assert {"ORPHAN_ORDER", "CLOCK_DRIFT", "RECOVERY_COMPLETE", "SYNC_CYCLE_SLOW"} <= raised
    missing = raised - documented_codes()
    assert not missing, f"alerts raised but not in docs/OPERATIONS.md section 10: {sorted(missing)}"


def commands_in_code(text: str) -> set[str]:
    """``kairos X`` written as a command: inside a code span or a fenced block (shell comments
    dropped), at the start of the command (not ``kubectl -n kairos get``, not prose)."""
    blocks = re.findall(r"```.*?```", text, re.S)
    spans = [re.sub(r"(^|\s)#.*$", "", b, flags=re.M) for b in blocks]
    spans += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    found = set()
    for span in spans:
        for m in re.finditer(r"(?:^|(?<=[\s(;&|$/]))kairos ([a-z][a-z-]+)\b", span, re.M):
            before = span[: m.start()]
            namespace = before.rstrip().endswith(("-n", "--namespace"))
            path = before.endswith("/") and not before.endswith("bin/")
            if not namespace and not path:
                found.add(m[1])
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_kairos_subcommand_named_exists(doc: Path) -> None:
    unknown = sorted(n for n in commands_in_code(doc.read_text()) if n not in COMMANDS)
    assert unknown == [], f"{doc.name} names kairos subcommands that do not exist: {unknown}"


def test_the_subcommand_check_is_not_vacuous() -> None:
    assert commands_in_code("run `kairos manifests --kn` or\n```sh\n.venv/bin/kairos dlq list\n```") == {
        "manifests",
        "dlq",
    }
    assert commands_in_code("`kubectl -n kairos get pods`, the kairos library") == set()


def test_every_documented_kairos_variable_is_read() -> None:
    sources = [*PRODUCTION, REPO / "shared" / "kairos" / "catalog" / "catalog.yaml"]
    sources += sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "bench").rglob("*.py"))  # test/bench knobs
    sources += [p for p in (REPO / "scripts").rglob("*") if p.is_file()]
    sources += sorted((REPO / "k8s").rglob("*.yaml"))
    corpus = "\n".join(p.read_text(errors="replace") for p in sources)
    unread: dict[str, list[str]] = {}
    for doc in DOCS:
        for var in set(re.findall(r"\b(KAIROS_[A-Z0-9_]+[A-Z0-9])\b", doc.read_text())):
            if var not in corpus and var not in EXAMPLE_ONLY:
                unread.setdefault(doc.name, []).append(var)
    assert unread == {}, f"documented variables nothing reads: {unread}"


def test_what_the_operations_guide_tells_operators_to_use_exists() -> None:
    ops = (REPO / "docs" / "OPERATIONS.md").read_text()
    policies = (REPO / "k8s" / "app" / "network-policies.yaml").read_text()
    assert "--labels kairos.dev/operator-tool=true" in ops and 'kairos.dev/operator-tool: "true"' in policies
    assert "name: operator-tools-egress" in policies
    secrets = {p.stem for p in (REPO / "k8s" / "app" / "secrets").glob("*.yaml")}
    for name in re.findall(r"Secret `(kairos-[a-z0-9-]+|grafana-admin)`", ops):
        templated = any(
            f"name: {name}\n" in (REPO / "k8s" / "app" / "secrets" / f"{s}.yaml").read_text() for s in secrets
        )
        assert templated or name in {"kairos-pg-app", "kairos-registry"}, f"Secret {name} has no template"
