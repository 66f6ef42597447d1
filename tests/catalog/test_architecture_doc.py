"""docs/ARCHITECTURE.md shows the wiring as the catalog has it."""

from kairos.catalog.docs import ARCHITECTURE, render_into
from kairos.catalog.model import load_catalog


def test_architecture_wiring_section_matches_the_catalog():
    text = ARCHITECTURE.read_text()
    assert render_into(text, load_catalog()) == text, "docs/ARCHITECTURE.md drifted: run `kairos catalog --write-docs`"
