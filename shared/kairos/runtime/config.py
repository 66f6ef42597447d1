"""Configuration from environment variables only, validated at start-up.

A missing or malformed variable stops the process with a message that names it and
says what to set, instead of failing later on the first event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kairos.contracts.limits import MAX_EVENT_BYTES
from kairos.errors import ConfigError


def require(env: Mapping[str, str], name: str, hint: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set: {hint}")
    return value


def integer(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"environment variable {name} must be >= {minimum}, got {value}")
    return value


def event_limit(env: Mapping[str, str]) -> int:
    """``KAIROS_MAX_EVENT_BYTES``: may lower the contract's limit, never raise it (a larger
    event would not fit the producers' and the broker's record limit)."""
    value = integer(env, "KAIROS_MAX_EVENT_BYTES", MAX_EVENT_BYTES, minimum=1024)
    if value > MAX_EVENT_BYTES:
        raise ConfigError(
            f"KAIROS_MAX_EVENT_BYTES must be <= {MAX_EVENT_BYTES} (the broker's record limit leaves no room "
            f"for more), got {value}"
        )
    return value


@dataclass(frozen=True)
class RuntimeSettings:
    """What every function needs to run."""

    database_url: str
    kafka_bootstrap: str
    kafka_profile: str
    max_event_bytes: int
    pool_size: int
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RuntimeSettings:
        profile = env.get("KAIROS_KAFKA_PROFILE", "kafka")
        if profile not in ("kafka", "tansu"):
            raise ConfigError(f"KAIROS_KAFKA_PROFILE must be 'kafka' or 'tansu', got {profile!r}")
        return cls(
            database_url=require(env, "DATABASE_URL", "a postgresql:// URL of the Kairos database"),
            kafka_bootstrap=require(env, "KAFKA_BOOTSTRAP_SERVERS", "host:port[,host:port] of the Kafka brokers"),
            kafka_profile=profile,
            max_event_bytes=event_limit(env),
            pool_size=integer(env, "KAIROS_DB_POOL_SIZE", 8, minimum=1),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )
