"""Every module of the contracts package registers its models without being listed anywhere."""

from __future__ import annotations

import sys
from pathlib import Path

import kairos.contracts
import pytest
from kairos.contracts import registry

PROBE = '''
from kairos.contracts.registry import register
from kairos.contracts.types import Contract


@register("kairos.test.discovered_probe", 1)
class DiscoveredProbe(Contract):
    note: str
'''


def test_a_new_contracts_module_is_registered_without_being_listed(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "zz_discovered_probe.py").write_text(PROBE)
    monkeypatch.setattr(kairos.contracts, "__path__", [*kairos.contracts.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # the probe leaves no trace
    monkeypatch.setattr(registry, "_TYPES", dict(registry._TYPES))
    registry._load_all.cache_clear()
    try:
        model = registry.model_for("kairos.test.discovered_probe", 1)  # nobody imported the module
        assert model.__module__ == "kairos.contracts.zz_discovered_probe"
        assert registry.type_of(model) == ("kairos.test.discovered_probe", 1)
    finally:
        sys.modules.pop("kairos.contracts.zz_discovered_probe", None)
        registry._load_all.cache_clear()


def test_every_contracts_module_is_loaded_by_the_registry() -> None:
    registry.registered()
    modules = {p.stem for p in Path(kairos.contracts.__file__).parent.glob("*.py") if p.stem != "__init__"}
    assert {m for m in modules if f"kairos.contracts.{m}" not in sys.modules} == set()
