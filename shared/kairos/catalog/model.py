"""Typed view of ``catalog.yaml`` and the consistency rules it must satisfy.

Both the local runner and the Knative manifest generator read the catalog through this
module, so a wiring mistake is caught once, here, with a message that names it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from kairos.errors import ConfigError

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
ANY_TOPIC = "*"
_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")


def duration_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration such as ``PT0.2S`` or ``P7D``; ValueError if malformed."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeliveryPolicy(_Strict):
    """Knative delivery spec: retries after the first attempt, backoff and per-try timeout."""

    retry: int = Field(ge=0, le=100)
    backoff_policy: Literal["linear", "exponential"]
    backoff_delay: str
    timeout: str

    def backoff_seconds(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based), as Knative computes it."""
        base = duration_seconds(self.backoff_delay)
        return base * attempt if self.backoff_policy == "linear" else base * (2 ** (attempt - 1))

    @property
    def timeout_seconds(self) -> float:
        return duration_seconds(self.timeout)


class Scale(_Strict):
    min: int = Field(ge=0)
    max: int = Field(ge=1)
    concurrency: int = Field(ge=1)


class Resources(_Strict):
    requests: dict[str, str]
    limits: dict[str, str]


class Defaults(_Strict):
    delivery: DeliveryPolicy
    scale: Scale
    resources: Resources


class Topic(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]+$")
    description: str
    partitions: int = Field(ge=1, le=1024)
    key: str
    retention: str
    types: list[str] = Field(default_factory=list)
    dead_letter: bool = False

    @property
    def retention_ms(self) -> int:
        return int(duration_seconds(self.retention) * 1000)


class Subscription(_Strict):
    topic: str
    consumer_group: str
    ordering: Literal["ordered", "unordered"] = "ordered"
    delivery: DeliveryPolicy | None = None


class Cron(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]+$")
    schedule: str
    timezone: str = "UTC"
    data: dict[str, Any] = Field(default_factory=dict)


class Function(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]+$")
    description: str
    subscriptions: list[Subscription] = Field(default_factory=list)
    crons: list[Cron] = Field(default_factory=list)
    publishes: list[str] = Field(default_factory=list)
    dead_letter_topic: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list)
    scale: Scale | None = None
    resources: Resources | None = None
    internet: bool = False
    #: ``event``: a CloudEvents function fed by its subscriptions and crons. ``http``: a
    #: plain HTTP (ASGI) function that people and tools call (the operator API): it has no
    #: subscriptions, crons or dead-letter topic and answers its own routes.
    kind: Literal["event", "http"] = "event"


class Source(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]+$")
    description: str
    command: list[str]
    publishes: list[str]
    env: dict[str, str] = Field(default_factory=dict)


class Catalog(_Strict):
    version: Literal[1]
    namespace: str
    defaults: Defaults
    topics: list[Topic]
    functions: list[Function]
    sources: list[Source] = Field(default_factory=list)

    # --- look-ups ----------------------------------------------------------------

    def topic(self, name: str) -> Topic:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(f"catalog has no topic {name!r}")

    def function(self, name: str) -> Function:
        for fn in self.functions:
            if fn.name == name:
                return fn
        raise KeyError(f"catalog has no function {name!r}")

    def delivery_for(self, sub: Subscription) -> DeliveryPolicy:
        return sub.delivery or self.defaults.delivery

    def scale_for(self, fn: Function) -> Scale:
        return fn.scale or self.defaults.scale

    def resources_for(self, fn: Function) -> Resources:
        return fn.resources or self.defaults.resources

    def accepted_types(self, fn: Function) -> set[str]:
        """Event types ``fn`` may receive: those of its topics, plus ping ticks for crons."""
        from kairos.contracts.ops import PING_EVENT_TYPE

        types = {t for sub in fn.subscriptions for t in self.topic(sub.topic).types}
        if fn.crons:
            types.add(PING_EVENT_TYPE)
        return types

    def output_topic(self, fn: Function, event_type: str) -> str:
        """The topic ``fn`` publishes ``event_type`` to; ConfigError when it may not."""
        candidates = self.topics if ANY_TOPIC in fn.publishes else [self.topic(t) for t in fn.publishes]
        matches = [t.name for t in candidates if event_type in t.types]
        if len(matches) != 1:
            raise ConfigError(
                f"function {fn.name} may not publish {event_type}: "
                f"{'no' if not matches else 'several'} declared output topic(s) carry it {matches}"
            )
        return matches[0]

    # --- consistency -------------------------------------------------------------

    def consistency_errors(self) -> list[str]:
        """Every wiring mistake, one message each (empty when the catalog is sound)."""
        from kairos.contracts.registry import registered

        errors: list[str] = []
        names = [t.name for t in self.topics]
        known = set(names)
        known_types = {t for (t, _v) in registered()}
        errors += [f"topic {n} is declared twice" for n in sorted({n for n in names if names.count(n) > 1})]
        fn_names = [f.name for f in self.functions] + [s.name for s in self.sources]
        errors += [f"{n} is declared twice" for n in sorted({n for n in fn_names if fn_names.count(n) > 1})]
        used: set[str] = set()
        for topic in self.topics:
            errors += [f"topic {topic.name} carries unregistered type {t}" for t in topic.types if t not in known_types]
            if not topic.dead_letter and not topic.types:
                errors.append(f"topic {topic.name} declares no event types")
        for fn in self.functions:
            if fn.kind == "http" and (fn.subscriptions or fn.crons or fn.dead_letter_topic):
                errors.append(f"function {fn.name} is an http function: no subscriptions, crons or dead letters")
            elif fn.kind == "event" and not fn.subscriptions and not fn.crons:
                errors.append(f"function {fn.name} has neither subscriptions nor crons")
            groups = [s.consumer_group for s in fn.subscriptions]
            for sub in fn.subscriptions:
                used.add(sub.topic)
                if sub.topic not in known:
                    errors.append(f"function {fn.name} subscribes to undeclared topic {sub.topic}")
            if len(set(groups)) != len(groups):
                errors.append(f"function {fn.name} reuses a consumer group")
            for out in fn.publishes:
                if out != ANY_TOPIC and out not in known:
                    errors.append(f"function {fn.name} publishes to undeclared topic {out}")
                used.add(out)
            if fn.subscriptions:
                dlq = fn.dead_letter_topic
                if dlq is None:
                    errors.append(f"function {fn.name} subscribes to topics but has no dead_letter_topic")
                elif dlq not in known:
                    errors.append(f"function {fn.name} dead-letters to undeclared topic {dlq}")
                elif not self.topic(dlq).dead_letter:
                    errors.append(f"function {fn.name} dead-letters to {dlq}, which is not a dead-letter topic")
                if dlq:
                    used.add(dlq)
        for src in self.sources:
            for out in src.publishes:
                used.add(out)
                if out not in known:
                    errors.append(f"source {src.name} publishes to undeclared topic {out}")
        all_groups = [s.consumer_group for f in self.functions for s in f.subscriptions]
        errors += [
            f"consumer group {g} is used twice" for g in sorted({g for g in all_groups if all_groups.count(g) > 1})
        ]
        errors += [f"topic {t} is orphaned: nothing publishes to or reads it" for t in names if t not in used]
        return errors


@functools.lru_cache(maxsize=4)
def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate the catalog; raises ConfigError naming the problem."""
    source = path or CATALOG_PATH
    try:
        raw = yaml.safe_load(source.read_text())
        catalog = Catalog.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read catalog {source}: {exc}") from exc
    except Exception as exc:  # pydantic.ValidationError: name the file
        raise ConfigError(f"catalog {source} is invalid: {exc}") from None
    return catalog
