"""The alert relay: every ``ops.alert`` event to one webhook, once, at a bounded rate.

What it decides, in order, for each alert event:

1. **Severity**: below ``KAIROS_ALERT_MIN_SEVERITY`` (default ``info``: everything) -> skipped.
2. **Duplicates by alert id**: alert ids are stable per fact, and the function runtime's
   inbox already hands an event id to the handler once. The relay also remembers the ids it
   sent (the last 10,000), so an event whose webhook call succeeded but whose transaction
   did not commit is not sent a second time when it is delivered again.
3. **Rate limit**: a token bucket (``KAIROS_ALERT_RATE_PER_MINUTE``, default 20, burst
   ``KAIROS_ALERT_BURST``, default 10; Telegram allows about 20 messages a minute to a
   group). A critical alert is always sent. A warning or info alert that finds the bucket
   empty is held back: counted by code and named in the next message that goes out, so a
   person still learns of it (and it stays on ``ops.alert``).
4. **Send with retries** (no ``KAIROS_ALERT_WEBHOOK_URL``, as under ``kairos dev``: the
   text is only logged, at warning; in the cluster the Secret ``kairos-alert-webhook``
   cannot be created without it): ``KAIROS_ALERT_RETRIES`` further attempts (default 3) after a
   network error, a timeout, a 5xx or a 429, waiting 0.5 s, 1 s, 2 s… or what the receiver
   asks (Telegram's ``parameters.retry_after``, or ``Retry-After``), at most 10 s a wait. A
   4xx other than 429 is not retried here (the URL, token or chat id is wrong). Either way the
   handler then raises a :class:`~kairos.errors.TransientError`: the delivery retries the
   event and finally dead-letters it to ``dlq.alert-relay``, from where ``kairos dlq replay``
   sends it once the webhook is fixed.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Counter

from kairos.alerting.formats import FORMATS, json_body, telegram_body
from kairos.contracts.envelope import Envelope
from kairos.contracts.ops import Alert
from kairos.errors import ConfigError, TransientError

log = logging.getLogger("kairos.alert_relay")

SEVERITIES = ("info", "warning", "critical")
MAX_WAIT_S = 10.0

SENT = Counter("kairos_alert_relay_sent_total", "Alerts the webhook accepted", ["severity"])
FAILED = Counter("kairos_alert_relay_failed_total", "Alerts the webhook did not accept after the retries")
HELD_BACK = Counter("kairos_alert_relay_rate_limited_total", "Alerts held back by the rate limit", ["severity"])
DUPLICATES = Counter("kairos_alert_relay_duplicates_total", "Alert ids seen again after a successful send")


@dataclass(frozen=True)
class RelayConfig:
    url: str
    format: str = "telegram"
    chat_id: str = ""
    min_severity: str = "info"
    rate_per_minute: float = 20.0
    burst: int = 10
    retries: int = 3
    timeout_s: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RelayConfig:
        """Settings from the environment; ConfigError naming the variable when one is wrong."""
        url = env.get("KAIROS_ALERT_WEBHOOK_URL", "").strip()
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(
                "KAIROS_ALERT_WEBHOOK_URL must be the webhook's http(s) URL (Telegram: "
                "https://api.telegram.org/bot<token>/sendMessage); set it in the Secret kairos-alert-webhook"
            )
        fmt = env.get("KAIROS_ALERT_WEBHOOK_FORMAT", "telegram").strip()
        if fmt not in FORMATS:
            raise ConfigError(f"KAIROS_ALERT_WEBHOOK_FORMAT={fmt!r}: expected one of {', '.join(FORMATS)}")
        chat = env.get("KAIROS_ALERT_TELEGRAM_CHAT_ID", "").strip()
        if url and fmt == "telegram" and not chat:
            raise ConfigError("KAIROS_ALERT_TELEGRAM_CHAT_ID is required with the telegram format")
        severity = env.get("KAIROS_ALERT_MIN_SEVERITY", "info").strip()
        if severity not in SEVERITIES:
            raise ConfigError(f"KAIROS_ALERT_MIN_SEVERITY={severity!r}: expected one of {', '.join(SEVERITIES)}")
        try:
            return cls(
                url=url,
                format=fmt,
                chat_id=chat,
                min_severity=severity,
                rate_per_minute=float(env.get("KAIROS_ALERT_RATE_PER_MINUTE", "20")),
                burst=int(env.get("KAIROS_ALERT_BURST", "10")),
                retries=int(env.get("KAIROS_ALERT_RETRIES", "3")),
                timeout_s=int(env.get("KAIROS_ALERT_TIMEOUT_MS", "5000")) / 1000,
            )
        except ValueError as exc:
            raise ConfigError(f"an alert relay number (KAIROS_ALERT_*) is not a number: {exc}") from None


@dataclass
class TokenBucket:
    """``rate_per_minute`` tokens a minute, at most ``burst`` saved up."""

    rate_per_minute: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.updated = self.clock()

    def take(self, *, force: bool = False) -> bool:
        """One token if there is one (``force``: always, the bucket may go below zero)."""
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate_per_minute / 60)
        self.updated = now
        if self.tokens >= 1 or force:
            self.tokens -= 1
            return True
        return False


class RecentIds:
    """The last ``size`` alert ids sent (insertion order; the oldest is forgotten first)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._ids

    def add(self, alert_id: str) -> None:
        self._ids[alert_id] = None
        self._ids.move_to_end(alert_id)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


class WebhookFailed(TransientError):
    """The webhook did not accept an alert after the retries; the delivery tries again later."""

    code = "webhook_failed"


def _wait_asked(resp: httpx.Response) -> float | None:
    """Seconds the receiver asks to wait (Telegram's JSON ``retry_after``, or ``Retry-After``)."""
    try:
        body: Any = resp.json()
        asked = body.get("parameters", {}).get("retry_after") if isinstance(body, dict) else None
        if asked is not None:
            return float(asked)
    except ValueError:
        pass
    header = resp.headers.get("retry-after")
    try:
        return float(header) if header else None
    except ValueError:
        return None


#: Severity names other alert contracts use (e.g. a risk stage's LOW..CRITICAL) -> ours.
SEVERITY_NAMES = {
    "low": "info",
    "info": "info",
    "medium": "warning",
    "warning": "warning",
    "high": "warning",
    "critical": "critical",
}


def as_alert(data: Any, source: str) -> Alert:
    """``data`` as an :class:`Alert`: itself, or any alert-shaped contract (``severity``,
    ``code``, ``message``; its other fields become ``details``), so a stage with its own alert
    type reaches people by subscribing the relay to its topic."""
    if isinstance(data, Alert):
        return data
    fields = data.model_dump(mode="json") if hasattr(data, "model_dump") else dict(data)
    severity = SEVERITY_NAMES.get(str(fields.pop("severity", "warning")).lower(), "warning")
    return Alert(
        severity=severity,  # type: ignore[arg-type]
        code=str(fields.pop("code", "ALERT")),
        message=str(fields.pop("message", "")),
        component=str(fields.pop("component", None) or source.rsplit("/", 1)[-1]),
        action=fields.pop("action", None),
        details={k: v for k, v in fields.items() if v is not None} or None,
    )


class Relay:
    """Decide and send; one instance per process (the rate limit and recent ids are per process)."""

    def __init__(
        self,
        config: RelayConfig,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.client = client or httpx.Client(timeout=config.timeout_s)
        self.sleep = sleep
        self.bucket = TokenBucket(config.rate_per_minute, config.burst, clock)
        self.sent_ids = RecentIds()
        self.held_back: dict[str, int] = {}

    def close(self) -> None:
        self.client.close()

    def handle(self, event: Envelope[Any]) -> str:
        """Send one alert event; returns what happened (``sent``, ``duplicate``, ``below_severity``,
        ``rate_limited``). Raises WebhookFailed when the webhook did not take it."""
        alert = as_alert(event.data, event.meta.source)
        alert_id = event.meta.id
        if SEVERITIES.index(alert.severity) < SEVERITIES.index(self.config.min_severity):
            return "below_severity"
        if alert_id in self.sent_ids:
            DUPLICATES.inc()
            return "duplicate"
        if not self.bucket.take(force=alert.severity == "critical"):
            self.held_back[alert.code] = self.held_back.get(alert.code, 0) + 1
            HELD_BACK.labels(alert.severity).inc()
            log.warning("alert held back by the rate limit", extra={"code": alert.code, "alert_id": alert_id})
            return "rate_limited"
        held = dict(self.held_back)
        if self.config.format == "telegram":
            body = telegram_body(alert, self.config.chat_id, suppressed=held)
        else:
            body = json_body(alert, alert_id, event.meta.time, event.meta.source, suppressed=held)
        if self.config.url:
            self._post(body, alert)
        else:
            log.warning("alert (no KAIROS_ALERT_WEBHOOK_URL: logged only)", extra={"alert": body})
        self.sent_ids.add(alert_id)
        for code, n in held.items():  # named in this message: start counting again
            left = self.held_back.get(code, 0) - n
            if left > 0:
                self.held_back[code] = left
            else:
                self.held_back.pop(code, None)
        SENT.labels(alert.severity).inc()
        return "sent"

    def _post(self, body: dict[str, Any], alert: Alert) -> None:
        delay = 0.5
        reason = ""
        for attempt in range(self.config.retries + 1):
            wait: float = delay
            try:
                resp = self.client.post(self.config.url, json=body)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code < 300:
                    return
                reason = f"HTTP {resp.status_code}: {resp.text[:200]}"
                if resp.status_code == 429:
                    wait = _wait_asked(resp) or delay
                elif resp.status_code < 500:
                    break  # the request itself is wrong: retrying now changes nothing
            if attempt < self.config.retries:
                self.sleep(min(wait, MAX_WAIT_S))
                delay *= 2
        FAILED.inc()
        log.error(
            "alert webhook failed; the delivery retries, then dead-letters to dlq.alert-relay",
            extra={"code": alert.code, "reason": reason},
        )
        raise WebhookFailed(f"the alert webhook did not accept {alert.code}: {reason}")
