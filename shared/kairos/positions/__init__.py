"""Positions and their protection: the pure core.

Modules, in import order (each imports only those above it):

- ``model``: positions, fills, protection settings, protective-order views, venue rules;
- ``ids``: deterministic ids (positions, events, commands); the events are contracts;
- ``fold``: (position, fill) -> (position, events), the projection;
- ``trailing``: trailing-stop math shared by LIVE (emulated) and SHADOW;
- ``targets``: the protection a position should have (rounded to tick and step);
- ``diagnostics``: derive-sync (what is missing, which phase);
- ``actions`` / ``plan``: the reconcile plan in its safety order (cancels, TPs, checked SL), and its
  ``cmd.*`` payloads;
- ``sync``: one sync decided from its state (diagnostics once, the two checked steps, the outcome);
- ``inputs``: ``exec.fill`` -> the core's ``Fill``;
- ``schedule``: the scheduler's spreading and priorities;
- ``slo``: SLOs and alerts from timestamps;
- ``shadow``: SHADOW trigger simulation;
- ``queries``: SQL for the integration, against the positions tables of migration 0010.

Nothing here does I/O. See docs/POSITIONS.md.
"""
