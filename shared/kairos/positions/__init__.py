"""Positions and their protection: the pure core (issue 7).

Modules, in import order (each imports only those above it):

- ``model``: positions, fills, protection settings, protective-order views, venue rules;
- ``events``: ``event.position_*`` payloads and deterministic ids;
- ``fold``: (position, fill) -> (position, events), the projection;
- ``trailing``: trailing-stop math shared by LIVE (emulated) and SHADOW;
- ``targets``: the protection a position should have (rounded to tick and step);
- ``diagnostics``: seed 000's derive-sync (what is missing, which phase);
- ``actions`` / ``plan``: the reconcile plan with seed 002's safety ordering, and its
  ``cmd.*`` payloads;
- ``orchestrator``: seed 000's phase -> adapter-method dispatch (``TradingAdapter`` protocol);
- ``inputs``: ``exec.fill`` -> the core's ``Fill``;
- ``schedule``: the scheduler's spreading and priorities;
- ``slo``: SLOs and alerts from timestamps;
- ``shadow``: SHADOW trigger simulation;
- ``queries`` + ``schema_draft.sql``: SQL for the integration.

Nothing here does I/O. See docs/POSITIONS.md.
"""
