"""The API's settings, read from the environment once at start (Secrets in production)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kairos.api.limits import Limit
from kairos.api.tokens import TokenSettings
from kairos.runtime.config import integer, require

JWT_SECRET_ENV = "KAIROS_API_JWT_SECRET"


@dataclass(frozen=True)
class ApiSettings:
    database_url: str
    tokens: TokenSettings
    per_user: Limit
    per_address: Limit
    max_body_bytes: int
    reconciler_url: str | None
    stream_interval_s: float
    venue: str
    kafka_bootstrap: str | None
    kafka_profile: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        return cls(
            database_url=require(env, "DATABASE_URL", "the Postgres URL every function uses"),
            tokens=TokenSettings(
                secret=require(env, JWT_SECRET_ENV, "the JWT signing key: at least 32 random characters (a Secret)"),
                access_ttl_s=integer(env, "KAIROS_API_ACCESS_TTL_S", 900, minimum=30),
                refresh_ttl_s=integer(env, "KAIROS_API_REFRESH_TTL_S", 7 * 86400, minimum=60),
            ),
            per_user=Limit(integer(env, "KAIROS_API_RATE_PER_USER", 1200, minimum=1), 60),
            per_address=Limit(integer(env, "KAIROS_API_RATE_PER_ADDRESS", 2400, minimum=1), 60),
            max_body_bytes=integer(env, "KAIROS_API_MAX_BODY_BYTES", 65536, minimum=1024),
            reconciler_url=env.get("KAIROS_RECONCILER_URL") or None,
            stream_interval_s=integer(env, "KAIROS_API_STREAM_INTERVAL_MS", 250, minimum=50) / 1000,
            venue=env.get("KAIROS_API_DEFAULT_VENUE", "binanceusdm"),
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            kafka_profile=env.get("KAIROS_KAFKA_PROFILE", "kafka"),
        )
