"""Idempotent writes: one effect per (user, Idempotency-Key), whatever the retries.

The key is claimed by an insert in the SAME transaction as the write's effect and its
stored answer. A second request with the key waits on the first's row (the primary key)
until it commits, then finds the stored answer: two concurrent requests have one effect.
The same key with a different method, path or body is refused (422): the client reused a
key for another request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class Stored:
    status: int
    body: Any


class KeyReused(Exception):
    """The key was used before for a different request."""


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b"\n" + path.encode() + b"\n" + body).hexdigest()


def claim(conn: psycopg.Connection, username: str, key: str, method: str, path: str, digest: str) -> Stored | None:
    """None: the key is ours, do the effect and :func:`store`. Otherwise the earlier answer."""
    row = conn.execute(
        "INSERT INTO api_idempotency (username, key, method, path, request_hash) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (username, key) DO NOTHING RETURNING key",
        (username, key, method, path, digest),
    ).fetchone()
    if row is not None:
        return None
    earlier = conn.execute(
        "SELECT request_hash, status, response FROM api_idempotency WHERE username = %s AND key = %s",
        (username, key),
    ).fetchone()
    assert earlier is not None
    if earlier[0] != digest:
        raise KeyReused(f"Idempotency-Key {key!r} was used for a different request")
    return Stored(int(earlier[1]), earlier[2])


def store(conn: psycopg.Connection, username: str, key: str, status: int, body: Any) -> None:
    conn.execute(
        "UPDATE api_idempotency SET status = %s, response = %s WHERE username = %s AND key = %s",
        (status, json.dumps(body, default=str), username, key),
    )
