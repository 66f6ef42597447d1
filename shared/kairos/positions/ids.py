"""Deterministic ids of the positions core: positions, events, commands.

Ids are hashes of what happened, so replaying the same fills produces the same event ids
and the outbox/inbox dedupe them. The events themselves are contracts
(``kairos.contracts.positions.PositionEvent``).
"""

from __future__ import annotations

import hashlib


def stable_id(*parts: object, prefix: str = "", length: int = 32) -> str:
    """A short deterministic id from ``parts`` (sha256, hex): same inputs, same id, any process."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}{digest[:length]}"


def position_id_for(key_text: str, opening_trade_id: str) -> str:
    """A position's id: its slot plus the trade that opened it, so a replay finds the same id."""
    return stable_id(key_text, opening_trade_id, prefix="pos-", length=24)
