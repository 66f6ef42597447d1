"""Short-lived access tokens (JWT, HS256) and single-use refresh tokens kept in Postgres.

The signing key comes from the environment (a Kubernetes Secret in production): a token
signed with anything else, expired, or missing a claim is refused (401). A refresh token is
random, stored as its SHA-256 digest, used once (each refresh returns a new one).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import psycopg

from kairos.api.users import User

ISSUER = "kairos-api"


@dataclass(frozen=True)
class TokenSettings:
    secret: str
    access_ttl_s: int = 900
    refresh_ttl_s: int = 7 * 86400

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("KAIROS_API_JWT_SECRET must hold at least 32 characters (a Kubernetes Secret)")


class BadToken(Exception):
    """The access token is missing, malformed, forged or expired (401)."""


def issue_access(settings: TokenSettings, user: User, now: datetime | None = None) -> str:
    at = now or datetime.now(UTC)
    claims = {
        "sub": user.username,
        "role": user.role,
        "iss": ISSUER,
        "iat": int(at.timestamp()),
        "exp": int((at + timedelta(seconds=settings.access_ttl_s)).timestamp()),
    }
    return jwt.encode(claims, settings.secret, algorithm="HS256")


def verify_access(settings: TokenSettings, token: str) -> User:
    try:
        claims = jwt.decode(
            token, settings.secret, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub", "role"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise BadToken("token expired: log in again or refresh") from exc
    except jwt.PyJWTError as exc:
        raise BadToken(f"token refused: {exc}") from exc
    return User(str(claims["sub"]), claims["role"])


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_refresh(conn: psycopg.Connection, settings: TokenSettings, user: User) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_refresh_tokens (token_hash, username, expires_at) VALUES (%s, %s, now() + %s)",
        (_digest(token), user.username, timedelta(seconds=settings.refresh_ttl_s)),
    )
    return token


def use_refresh(conn: psycopg.Connection, token: str) -> str | None:
    """The user name a valid, unused refresh token belongs to (marking it used), or None."""
    row = conn.execute(
        "UPDATE api_refresh_tokens SET used_at = now() WHERE token_hash = %s AND used_at IS NULL "
        "AND expires_at > now() RETURNING username",
        (_digest(token),),
    ).fetchone()
    return str(row[0]) if row else None
