"""A new stage's files, planned from the catalog: function project, catalog entry, test skeleton.

Planning is pure (``plan`` returns every path and text, or raises ``ScaffoldError`` naming each
problem) and writing is one step after it, so a refused request leaves the repository as it
was. The catalog entry is *inserted as text* into ``catalog.yaml`` (the file's comments and
anchors are part of the documentation and a YAML round trip would drop them), and the result is
validated with the same consistency rules ``kairos catalog --check`` applies before anything is
written. ``func.yaml`` comes from the manifest generator, so it is exactly what
``kairos manifests`` would write.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import yaml
from croniter import croniter

from kairos.catalog.model import Catalog
from kairos.deploy.manifests import generate
from kairos.deploy.wheels import dependency_line
from kairos.errors import ConfigError

CATALOG = Path("shared/kairos/catalog/catalog.yaml")
NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class ScaffoldError(ConfigError):
    """The request cannot be scaffolded; the message lists every reason."""


@dataclass(frozen=True)
class Request:
    """What ``kairos new function`` was asked for."""

    name: str
    description: str
    subscribes: tuple[str, ...] = ()
    publishes: tuple[str, ...] = ()
    cron: str | None = None


@dataclass
class Plan:
    """Repository-relative path -> full new text of every file to write (catalog included)."""

    files: dict[Path, str] = field(default_factory=dict)

    def write(self, root: Path) -> None:
        for rel, text in self.files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def snake(name: str) -> str:
    return name.replace("-", "_")


def _requested_problems(req: Request, catalog: Catalog, root: Path) -> list[str]:
    problems = []
    if not NAME.match(req.name):
        problems.append(f"name {req.name!r} is not lower-case words joined by '-' (like market-watch)")
    taken = {f.name for f in catalog.functions} | {s.name for s in catalog.sources}
    if req.name in taken:
        problems.append(f"the catalog already has a function or source named {req.name}")
    for rel in (Path("functions") / req.name, Path("tests") / snake(req.name)):
        if (root / rel).exists():
            problems.append(f"{rel} already exists")
    if bool(req.subscribes) == bool(req.cron):
        problems.append("give either --subscribes TOPIC (one or more) or --cron EXPR, not both or neither")
    if req.cron is not None and not croniter.is_valid(req.cron):
        problems.append(f"--cron {req.cron!r} is not a cron expression (five fields, e.g. '*/5 * * * *')")
    if not req.description.strip():
        problems.append("--description must say in one sentence what the stage does")
    known = {t.name: t for t in catalog.topics}
    for topic in req.subscribes:
        if topic not in known:
            problems.append(f"--subscribes {topic}: no such topic in the catalog (add its contract and topic first)")
        elif known[topic].dead_letter:
            problems.append(f"--subscribes {topic}: a dead-letter topic; subscribe to it by editing the catalog")
    for topic in req.publishes:
        if topic not in known:
            problems.append(f"--publishes {topic}: no such topic in the catalog (add its contract and topic first)")
    return problems


def _flow_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(items) + "]"


def _function_entry(req: Request) -> str:
    lines = [f"  - name: {req.name}", f"    description: {_scalar(req.description)}"]
    if req.cron is not None:
        lines += [
            "    crons:",
            f"      - name: {req.name}-cron",
            f'        schedule: "{req.cron}"',
            "        timezone: UTC",
            f"        data: {{ job: {req.name} }}",
        ]
    else:
        lines.append("    subscriptions:")
        for i, topic in enumerate(req.subscribes):
            group = f"kairos.{req.name}" if i == 0 else f"kairos.{req.name}.{topic}"
            lines += [f"      - topic: {topic}", f"        consumer_group: {group}", "        ordering: ordered"]
    lines.append(f"    publishes: {_flow_list(req.publishes)}")
    if req.subscribes:
        lines.append(f"    dead_letter_topic: dlq.{req.name}")
    if req.cron is not None:
        lines.append("    scale: { min: 1, max: 1, concurrency: 1 }  # one tick, one handler")
    return "\n".join(lines) + "\n"


def _dead_letter_topic(req: Request) -> str:
    return (
        f"  - name: dlq.{req.name}\n"
        f"    description: Dead letters of {req.name}.\n"
        "    partitions: 1\n"
        "    key: original key\n"
        "    retention: P30D\n"
        "    dead_letter: true\n"
    )


def _scalar(text: str) -> str:
    """One YAML scalar on one line: quoted when plain style would change its meaning."""
    text = " ".join(text.split())
    dumped = yaml.safe_dump(text, default_flow_style=True, width=10_000).strip()
    return dumped.removesuffix("...").strip()


def _insert_before(text: str, marker: str, block: str) -> str:
    """``block`` as the last item of the section that ends where the line ``marker`` starts."""
    lines = text.splitlines(keepends=True)
    try:
        at = lines.index(marker + "\n")
    except ValueError:
        raise ScaffoldError(f"catalog.yaml has no top-level {marker!r} line to insert before") from None
    while at > 0 and not lines[at - 1].strip():
        at -= 1
    return "".join([*lines[:at], "\n" if marker == "sources:" else "", block, *lines[at:]])


def catalog_text(current: str, req: Request) -> str:
    """``current`` with the new function (and its dead-letter topic) inserted."""
    text = current
    if req.subscribes:
        text = _insert_before(text, "functions:", _dead_letter_topic(req))
    entry = _function_entry(req)
    if "\nsources:\n" in text:
        return _insert_before(text, "sources:", entry)
    return text.rstrip("\n") + "\n\n" + entry


def func_py(req: Request) -> str:
    trigger = f"cron ``{req.cron}``" if req.cron else ", ".join(f"``{t}``" for t in req.subscribes)
    outputs = ", ".join(f"``{t}``" for t in req.publishes) or "nothing"
    summary = textwrap.fill(f"{req.name} ({trigger} -> {outputs}): {' '.join(req.description.split())}", width=96)
    return f'''"""{summary}

A thin shell: the stage's rules live in the library (a module of ``kairos`` named for what it
decides), this handler only passes them the event and the connection and returns what they emit.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    # Call the library here (e.g. ``decide(ctx.conn, event.data)``) and return its events,
    # each made with ``derive_event(event, payload, source=ctx.source, ...)``.
    return []


def new() -> KairosFunction:
    return KairosFunction("{req.name}", handle)
'''


def init_py(req: Request) -> str:
    return f'''"""The {req.name} function (func-python layout: `new()` lives in func.py)."""

from .func import new

__all__ = ["new"]
'''


def pyproject(req: Request) -> str:
    return f'''[project]
name = "function"
description = "Kairos {req.name} function"
version = "0.1.0"
requires-python = ">=3.11"
# The kairos library is a wheel inside this project (vendor/, written by `make manifests`):
# `func build` and the image build install it from here; a bare "kairos" would be another
# project on PyPI (docs/DEPLOYMENT_MANIFESTS.md, "Building a function").
dependencies = ["{dependency_line(metadata.version("kairos"))}"]

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.metadata]
allow-direct-references = true

[tool.hatch.build.targets.wheel]
packages = ["function"]
'''


def skeleton_test(req: Request) -> str:
    head = f'''"""{req.name}: the first tests of the stage, on the real Postgres and broker.

Written by ``kairos new function``. Add one test per rule of the stage: deliver the event it
reacts to (``fn.process(to_cloudevent(envelope))``) and assert what it wrote and published.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kairos_testkit.events import ping_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics

NAME = "{req.name}"

'''
    if req.cron:
        body = f'''
def test_handles_its_tick(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        outcome = fn.process(ping_event("/tests/cron/{req.name}", datetime.now(UTC), {{"job": NAME}}))
        assert outcome.status == 204, outcome.reason
'''
    else:
        body = f'''
def test_refuses_event_types_it_does_not_subscribe_to(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        outcome = fn.process(ping_event("/tests/cron/{req.name}", datetime.now(UTC)))
        assert (outcome.status, outcome.code) == (400, "unexpected_event_type"), outcome.reason
'''
    return head + body


def plan(req: Request, root: Path) -> Plan:
    """Every file of the new stage under ``root`` (a checkout's layout); raises ScaffoldError."""
    catalog_path = root / CATALOG
    current = catalog_path.read_text(encoding="utf-8")
    try:
        before = Catalog.model_validate(yaml.safe_load(current))
    except Exception as exc:
        raise ScaffoldError(f"{catalog_path} does not load; fix it first: {exc}") from None
    problems = _requested_problems(req, before, root)
    if problems:
        raise ScaffoldError("cannot create function " + req.name + ":\n- " + "\n- ".join(problems))
    new_text = catalog_text(current, req)
    try:
        after = Catalog.model_validate(yaml.safe_load(new_text))
    except Exception as exc:  # a bug of this module, not of the request
        raise ScaffoldError(f"the catalog entry for {req.name} does not load: {exc}") from None
    errors = sorted(set(after.consistency_errors()) - set(before.consistency_errors()))
    if errors:
        raise ScaffoldError(f"the catalog with {req.name} is inconsistent:\n- " + "\n- ".join(errors))
    generated = generate(after)
    project = Path("functions") / req.name
    tests = Path("tests") / snake(req.name)
    return Plan(
        {
            CATALOG: new_text,
            project / "func.yaml": generated[project / "func.yaml"],
            project / "pyproject.toml": pyproject(req),
            project / "function" / "__init__.py": init_py(req),
            project / "function" / "func.py": func_py(req),
            tests / "__init__.py": "",
            tests / f"test_{snake(req.name)}.py": skeleton_test(req),
        }
    )
