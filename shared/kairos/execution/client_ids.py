"""Deterministic client order ids: the venue-side idempotency key of every order.

Binance allows ``^[.A-Z:/a-z0-9_-]{1,36}$``. We send ``kx1-`` + the first 32 hex digits of
SHA-256(command id): always 36 characters, always legal, the same for every delivery of a
command on every executor instance, and recognisable (the ``kx1-`` prefix lets the
reconciler find venue orders that we placed but the database does not know: orphans).
The ``1`` is the scheme version: a different derivation would get a different prefix.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "kx1-"
MAX_LENGTH = 36
ALLOWED = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


def client_order_id(command_id: str) -> str:
    digest = hashlib.sha256(command_id.encode()).hexdigest()
    return PREFIX + digest[: MAX_LENGTH - len(PREFIX)]


def is_ours(client_id: str | None) -> bool:
    return bool(client_id) and str(client_id).startswith(PREFIX)
