"""Configuration of protection, read once from the function's environment.

Why configuration and not the entry command: protection applies to the
positions the configuration says to protect; strategies name themselves on their orders
(``strategy_id``), so settings are chosen per strategy with a default.

- ``KAIROS_POSITIONS_PROTECTION``: JSON ``{"default": <Protection>, "strategies": {id: <Protection>},
  "protect_unmanaged": bool}``; an empty protection means "do not protect", except the
  ``default``: absent or ``{}`` it is "not set", and ``SAFE_DEFAULT`` applies. Settings stored in
  Postgres per account and strategy come first (``kairos.portfolio.protection_settings``).
- ``KAIROS_POSITIONS_RULES``: JSON ``{"default": <VenueRules>, "symbols": {symbol: <VenueRules>}}``.
  A symbol named here wins; otherwise a market the venue package lists takes its own tick, step
  and minimum from there (``kairos.venues``), so each symbol's levels are on its own grid; the
  ``default`` serves a market the venue package does not list.
- ``KAIROS_POSITIONS_FALLBACK``: ``close_at_market`` (default) or ``alert_only``.
- ``KAIROS_POSITIONS_MARK_MAX_AGE_S``: the oldest mark price position-sync acts on (default 90:
  the reconciler records marks every minute, and a stale price must not move a stop).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from kairos.errors import ConfigError
from kairos.positions.fold import OpenDefaults
from kairos.positions.model import Mode, Protection, StopLoss, TakeProfitLevel, VenueRules
from kairos.positions.plan import Fallback, PlanConfig
from kairos.venues import registry

DEFAULT_RULES = VenueRules(tick_size=Decimal("0.1"), step_size=Decimal("0.001"))

# What a position gets when nothing else is configured: a stop 2 % from the entry and one
# take-profit 4 % from it for the whole position. Nothing configured still means protected.
SAFE_DEFAULT = Protection(
    take_profits=(TakeProfitLevel(distance_pct=Decimal("4"), fraction=Decimal("1")),),
    stop_loss=StopLoss(distance_pct=Decimal("2")),
)


def _json(env: Mapping[str, str], name: str) -> dict[str, Any]:
    text = env.get(name, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{name} is not JSON ({exc}); fix the function's environment") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class PositionsConfig:
    default: Protection | None = None  # None: not set (SAFE_DEFAULT applies)
    strategies: Mapping[str, Protection] = field(default_factory=dict)
    protect_unmanaged: bool = True
    rules_default: VenueRules = DEFAULT_RULES
    rules: Mapping[str, VenueRules] = field(default_factory=dict)
    plan: PlanConfig = field(default_factory=PlanConfig)
    mark_max_age: timedelta = timedelta(seconds=90)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PositionsConfig:
        """Raises ConfigError naming the variable that is wrong. Parsed once per distinct text
        (functions call this per event; the environment does not change while they run)."""
        return _parsed(*(env.get(name, "") for name in _VARIABLES))

    @classmethod
    def _parse(cls, env: Mapping[str, str]) -> PositionsConfig:
        prot = _json(env, "KAIROS_POSITIONS_PROTECTION")
        rules = _json(env, "KAIROS_POSITIONS_RULES")
        try:
            fallback = Fallback(env.get("KAIROS_POSITIONS_FALLBACK", Fallback.CLOSE_AT_MARKET.value))
            raw_age = env.get("KAIROS_POSITIONS_MARK_MAX_AGE_S", "90")
            try:
                max_age = float(raw_age)
            except ValueError:
                raise ValueError(f"KAIROS_POSITIONS_MARK_MAX_AGE_S must be seconds, got {raw_age!r}") from None
            if not 0 < max_age <= 3600:
                raise ValueError(f"KAIROS_POSITIONS_MARK_MAX_AGE_S must be in (0, 3600] seconds, got {max_age}")
            return cls(
                default=Protection.model_validate(prot["default"]) if prot.get("default") else None,
                strategies={k: Protection.model_validate(v) for k, v in (prot.get("strategies") or {}).items()},
                protect_unmanaged=bool(prot.get("protect_unmanaged", True)),
                rules_default=VenueRules.model_validate(rules["default"]) if "default" in rules else DEFAULT_RULES,
                rules={k: VenueRules.model_validate(v) for k, v in (rules.get("symbols") or {}).items()},
                plan=PlanConfig(fallback=fallback),
                mark_max_age=timedelta(seconds=max_age),
            )
        except (ValidationError, ValueError) as exc:
            raise ConfigError(f"positions configuration is invalid: {exc}") from None

    def protection_for(self, strategy_id: str | None) -> Protection:
        """From the environment alone (Postgres settings: ``protection_settings.resolve``)."""
        return self.strategies.get(strategy_id or "", self.default or SAFE_DEFAULT)

    def open_defaults(self, strategy_id: str | None, mode: Mode) -> OpenDefaults:
        """What a position opened by a fill of ``strategy_id`` gets; empty protection = not protected."""
        protection = self.protection_for(strategy_id)
        return OpenDefaults(strategy_id=strategy_id, mode=mode, protect=not protection.empty, protection=protection)

    def rules_for(self, symbol: str, venue: str | None = None) -> VenueRules:
        """The configured rules of ``symbol``, else its venue's market spec, else the default."""
        configured = self.rules.get(symbol)
        if configured is not None:
            return configured
        listed = _listed_rules(venue, symbol) if venue else None
        return listed if listed is not None else self.rules_default


@functools.lru_cache(maxsize=256)
def _listed_rules(venue: str, symbol: str) -> VenueRules | None:
    """A listed market's tick, step and minimum as protection rules (None: not listed)."""
    try:
        definition = registry.definition(venue)
    except registry.UnknownVenue:
        return None
    spec = definition.market(symbol)
    if spec is None:
        return None
    return VenueRules(tick_size=spec.tick_size, step_size=spec.step_size, min_quantity=spec.min_qty,
                      native_trailing=definition.capabilities.native_trailing)  # fmt: skip


_VARIABLES = ("KAIROS_POSITIONS_PROTECTION", "KAIROS_POSITIONS_RULES", "KAIROS_POSITIONS_FALLBACK",
              "KAIROS_POSITIONS_MARK_MAX_AGE_S")


@functools.lru_cache(maxsize=8)
def _parsed(*texts: str) -> PositionsConfig:
    env = {k: v for k, v in zip(_VARIABLES, texts, strict=True) if v}
    return PositionsConfig._parse(env)
