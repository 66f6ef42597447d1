"""docs/EVENTS.md lists exactly the error codes the code base answers."""

from __future__ import annotations

import importlib
import pkgutil
import re

import kairos
from kairos.errors import KairosError
from kairos_testkit.paths import REPO

#: Codes the runtime and the delivery write as literals, not through an error class.
LITERAL_CODES = {"database_unavailable", "handler_error", "delivery_error"}


def error_classes(cls: type[KairosError]) -> set[type[KairosError]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *error_classes(sub)}
    return found


def documented_codes() -> set[str]:
    text = (REPO / "docs/EVENTS.md").read_text()
    table = text[text.index("## Errors a function answers") :]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line.split("|")[2]]
    return {code for row in rows for code in re.findall(r"`([a-z_]+)`", row.split("|")[2])}


def test_every_code_is_documented_and_every_documented_code_exists():
    for mod in pkgutil.walk_packages(kairos.__path__, "kairos."):
        importlib.import_module(mod.name)
    used = {c.code for c in error_classes(KairosError) if c.code != "error"} | LITERAL_CODES
    assert documented_codes() == used
