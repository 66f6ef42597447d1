"""Scaffolding for new stages (``kairos new function``): files planned from the catalog, written
only when the whole plan is consistent. Developer tooling: no function imports it."""
