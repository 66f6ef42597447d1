"""SQL the integration runs against ``schema_draft.sql``: text only, no driver, no I/O.

Kept next to the draft schema so the functions, the tests and the benchmark use one text.
Parameters use psycopg's ``%(name)s`` style.
"""

from __future__ import annotations

from importlib.resources import files

DETECT_UNPROTECTED = """
SELECT position_id, unprotected_since, extract(epoch FROM %(now)s::timestamptz - unprotected_since) AS unprotected_s
  FROM positions
 WHERE status <> 'CLOSED' AND protect AND unprotected_since IS NOT NULL
 ORDER BY unprotected_since, position_id
 LIMIT %(limit)s
"""
"""Seed 002's detection: positions lacking protection, oldest first; served by ``positions_unprotected``."""

SCHEDULE_OPEN_POSITIONS = """
SELECT position_id, unprotected_since
  FROM positions
 WHERE status <> 'CLOSED'
 ORDER BY position_id
"""
"""The scheduler's input: every open position with its protection state; served by ``positions_open``."""

MARK_PROTECTED = """
UPDATE positions
   SET unprotected_since = NULL,
       protected_at = coalesce(protected_at, %(at)s),
       last_sync_at = %(at)s,
       last_sync_outcome = %(outcome)s
 WHERE position_id = %(position_id)s
"""
"""position-sync after a sync whose diagnostics say ``protected``."""

MARK_UNPROTECTED = """
UPDATE positions
   SET unprotected_since = coalesce(unprotected_since, %(at)s),
       last_sync_at = %(at)s,
       last_sync_outcome = %(outcome)s
 WHERE position_id = %(position_id)s AND status <> 'CLOSED' AND protect
"""
"""position-sync (or an order event) when protection is missing: keeps the earliest time."""


def schema_draft() -> str:
    """The draft DDL (``schema_draft.sql``) as text."""
    return files("kairos.positions").joinpath("schema_draft.sql").read_text(encoding="utf-8")
