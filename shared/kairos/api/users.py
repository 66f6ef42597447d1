"""Operator accounts: argon2id password hashes in Postgres and the three roles.

Roles are ordered: a viewer reads, a trader also steers trading (strategies, kill switch,
reconcile), an admin also manages exchange accounts, dead letters and risk limits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["viewer", "trader", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "trader", "admin")
RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("kairos-no-such-user")


@dataclass(frozen=True)
class User:
    username: str
    role: Role


def may(role: str, needed: Role) -> bool:
    return RANK.get(role, -1) >= RANK[needed]


def add(conn: psycopg.Connection, username: str, password: str, role: Role) -> User:
    """Create or replace a user (a new password or role for an existing name)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < 12:
        raise ValueError("a password has at least 12 characters")
    conn.execute(
        "INSERT INTO api_users (username, password_hash, role) VALUES (%s, %s, %s) "
        "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, "
        "disabled = false",
        (username, _hasher.hash(password), role),
    )
    return User(username, role)


def generated_password() -> str:
    return secrets.token_urlsafe(18)


def authenticate(conn: psycopg.Connection, username: str, password: str) -> User | None:
    row = conn.execute(
        "SELECT password_hash, role FROM api_users WHERE username = %s AND NOT disabled", (username,)
    ).fetchone()
    try:
        _hasher.verify(row[0] if row else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(username, row[1]) if row else None


def find(conn: psycopg.Connection, username: str) -> User | None:
    row = conn.execute("SELECT role FROM api_users WHERE username = %s AND NOT disabled", (username,)).fetchone()
    return User(username, row[0]) if row else None
