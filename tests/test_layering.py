"""The import rules of the code base, checked mechanically over the source (no import is run).

- ``kairos.contracts`` imports only ``kairos.contracts``, ``kairos.errors`` and third-party
  code: contracts are the bottom layer every stage shares, so they know no domain.
- Production code does not import the simulator (``kairos.venue_sim``). Production is all of
  ``kairos`` except the simulator itself and the local developer tooling (``kairos.dev``,
  ``kairos.localinfra``), plus every function under ``functions/``. The CLI names the
  simulator's module in its lazy subcommand table as a string, which is not an import.
- The top-level packages of ``kairos`` (``kairos.execution``, ``kairos.venues``, ...) form a
  directed acyclic graph: no two packages import each other, directly or round a loop.
- A function imports ``kairos``, the standard library, third-party code and its own package,
  never another function (nor the tests or the benchmarks).

- docs/ARCHITECTURE.md's layer table lists every package of ``kairos`` in layer order and
  allows every import between packages that the source makes (the doc and the code agree).

Every import counts, also one inside a function body or under ``TYPE_CHECKING``: each is an
arrow a reader follows and a dependency a refactoring has to keep.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KAIROS = REPO / "shared" / "kairos"
FUNCTIONS = REPO / "functions"

NOT_PRODUCTION = ("kairos.venue_sim", "kairos.dev", "kairos.localinfra")
CONTRACTS_MAY_IMPORT = ("kairos.contracts", "kairos.errors")


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name, or a path for function code
    target: str  # dotted module the statement names (``from a import b`` -> ``a.b`` candidates below)
    where: str  # file:line, for messages

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} -> {self.target}"


def _module_name(path: Path) -> str:
    rel = path.relative_to(KAIROS.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(source: str, filename: str = "<source>") -> Iterator[tuple[str, int, int]]:
    """(absolute target or relative remainder, relative level, line) of every import in ``source``."""
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 0:
                for alias in node.names:
                    # ``from kairos.x import y``: y may be a module (kairos.x.y) or a name in kairos.x;
                    # the package graph only needs the longest prefix, the checks below use both.
                    yield f"{base}.{alias.name}" if alias.name != "*" else base, 0, node.lineno
            else:
                yield base, node.level, node.lineno


def _resolve(module: str, is_package: bool, target: str, level: int) -> str:
    parts = module.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, target] if target else anchor)


def kairos_imports() -> list[Import]:
    out = []
    for path in sorted(KAIROS.rglob("*.py")):
        module = _module_name(path)
        is_package = path.name == "__init__.py"
        for target, level, line in _imports(path.read_text(encoding="utf-8"), str(path)):
            absolute = _resolve(module, is_package, target, level) if level else target
            out.append(Import(module, absolute, f"{path.relative_to(REPO)}:{line}"))
    return out


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _production(module: str) -> bool:
    return not any(_within(module, p) for p in NOT_PRODUCTION)


def _top(name: str) -> str | None:
    """``kairos.execution.service`` -> ``kairos.execution``; None for code outside kairos."""
    parts = name.split(".")
    if parts[0] != "kairos" or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def package_graph(imports: list[Import]) -> dict[str, dict[str, list[Import]]]:
    graph: dict[str, dict[str, list[Import]]] = {}
    for imp in imports:
        src, dst = _top(imp.importer), _top(imp.target)
        if src is None or dst is None or src == dst:
            continue
        graph.setdefault(src, {}).setdefault(dst, []).append(imp)
    return graph


def find_cycle(graph: dict[str, dict[str, list[Import]]]) -> list[str] | None:
    """One cycle of ``graph`` as a node list (first node repeated last), or None if it is a DAG."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


# --- the rules ------------------------------------------------------------------------------


def test_contracts_import_only_contracts_errors_and_third_party() -> None:
    bad = [
        str(i)
        for i in kairos_imports()
        if _within(i.importer, "kairos.contracts")
        and _within(i.target, "kairos")
        and not any(_within(i.target, p) for p in CONTRACTS_MAY_IMPORT)
    ]
    assert not bad, "contracts must not import domain or infrastructure code:\n" + "\n".join(bad)


def test_production_does_not_import_the_simulator() -> None:
    bad = [str(i) for i in kairos_imports() if _production(i.importer) and _within(i.target, "kairos.venue_sim")]
    bad += [str(i) for i in function_imports() if _within(i.target, "kairos.venue_sim")]
    assert not bad, "production code imports the simulator:\n" + "\n".join(bad)


def test_top_level_packages_form_a_dag() -> None:
    graph = package_graph(kairos_imports())
    cycle = find_cycle(graph)
    if cycle:
        arrows = []
        for a, b in itertools.pairwise(cycle):
            arrows.append(f"{a} -> {b}, e.g. " + "; ".join(str(i) for i in graph[a][b][:3]))
        raise AssertionError("package cycle " + " -> ".join(cycle) + ":\n" + "\n".join(arrows))


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The DAG check would pass vacuously if ``find_cycle`` never found anything."""
    imp = Import("x", "y", "here")
    assert find_cycle({"a": {"b": [imp]}, "b": {"c": [imp]}, "c": {"a": [imp]}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": [imp]}, "b": {"c": [imp]}}) is None


def test_the_rules_see_lazy_and_relative_imports() -> None:
    """An import inside a function body, under TYPE_CHECKING, or relative counts as an arrow."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kairos.a import b\n"
        "def f():\n    import kairos.c\n"
        "from ..d import e\n"
    )
    assert sorted(_imports(source)) == [
        ("d", 2, 6),
        ("kairos.a.b", 0, 3),
        ("kairos.c", 0, 5),
        ("typing.TYPE_CHECKING", 0, 1),
    ]
    assert _resolve("kairos.venue_sim.cli", False, "model", 1) == "kairos.venue_sim.model"
    assert _resolve("kairos.venue_sim", True, "model", 1) == "kairos.venue_sim.model"
    assert _resolve("kairos.venue_sim.x.y", False, "", 2) == "kairos.venue_sim"


def function_dirs() -> list[Path]:
    return sorted(p for p in FUNCTIONS.iterdir() if (p / "func.yaml").exists())


def function_imports() -> list[Import]:
    """Every absolute import of every function project (importer = the function's directory name)."""
    out = []
    for fdir in function_dirs():
        for path in sorted(fdir.rglob("*.py")):
            for target, level, line in _imports(path.read_text(encoding="utf-8"), str(path)):
                if not level:
                    out.append(Import(fdir.name, target, f"{path.relative_to(REPO)}:{line}"))
    return out


def test_functions_import_kairos_and_libraries_never_another_function() -> None:
    dirs = function_dirs()
    assert dirs, "no function found under functions/"
    forbidden = {"function", "functions", "tests", "bench"} | {d.name.replace("-", "_") for d in dirs}
    bad = []
    for fdir in dirs:
        for path in sorted(fdir.rglob("*.py")):
            rel = path.relative_to(fdir)
            depth = len(rel.parts) - 1  # packages that hold the file inside this function
            for target, level, line in _imports(path.read_text(encoding="utf-8"), str(path)):
                where = f"{path.relative_to(REPO)}:{line}"
                if level and level > depth:
                    bad.append(f"{where}: relative import leaves the function ({'.' * level}{target})")
                elif not level and target.split(".")[0] in forbidden:
                    bad.append(f"{where}: imports {target}")
    assert not bad, "a function imports outside kairos and libraries:\n" + "\n".join(bad)


# --- docs/ARCHITECTURE.md's layer table says the same ------------------------------------------

ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"


def layer_table() -> dict[str, set[str]]:
    """``package -> packages it may import`` from the table between the layers markers."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    body = text.split("<!-- layers:begin", 1)[1].split("<!-- layers:end -->", 1)[0]
    table: dict[str, set[str]] = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        allowed = {f"kairos.{n.strip()}" for n in cells[2].split(",") if n.strip() and cells[2] != "nothing"}
        table["kairos." + cells[0].split("`")[1]] = allowed
    return table


def test_architecture_doc_lists_every_package_in_layer_order() -> None:
    table = layer_table()
    packages = {f"kairos.{p.name}" for p in KAIROS.iterdir() if p.is_dir() and any(p.glob("*.py"))} | {"kairos.errors"}
    assert set(table) == packages, (
        f"docs/ARCHITECTURE.md's layer table: missing {sorted(packages - set(table))}, "
        f"no such package {sorted(set(table) - packages)}"
    )
    seen: set[str] = set()
    for package, allowed in table.items():
        assert allowed <= seen, f"{package} may import {sorted(allowed - seen)}, which are not above it in the table"
        seen.add(package)


def test_every_import_between_packages_is_one_the_architecture_doc_allows() -> None:
    table = layer_table()
    bad = [
        f"{imp} ({src} may import: {', '.join(sorted(table.get(src, set()))) or 'nothing'})"
        for src, targets in package_graph(kairos_imports()).items()
        if src != "kairos.cli"
        for dst, imps in targets.items()
        if dst not in table.get(src, set())
        for imp in imps[:1]
    ]
    assert not bad, "imports the layer table of docs/ARCHITECTURE.md does not allow (change the code or the doc):\n" + (
        "\n".join(bad)
    )
