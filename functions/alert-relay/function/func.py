"""alert-relay: every ``ops.alert`` event to the operators' webhook (Telegram or generic JSON).

Severity filter, duplicates by alert id, rate limit and retries are the library's
(:mod:`kairos.alerting.relay`); this shell builds the relay from the environment at start
and hands it each alert. It publishes nothing: the alert is already on ``ops.alert``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kairos.alerting.relay import Relay, RelayConfig
from kairos.contracts.envelope import Envelope
from kairos.runtime import Context, KairosFunction


class AlertRelayFunction(KairosFunction):
    def __init__(self) -> None:
        self.relay: Relay | None = None
        super().__init__("alert-relay", self.send)

    def start(self, cfg: Mapping[str, str]) -> None:
        """A missing or wrong webhook setting stops the start with the variable's name."""
        self.relay = Relay(RelayConfig.from_env(cfg))
        super().start(cfg)

    def send(self, event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
        assert self.relay is not None, "the relay is built at start, before any event"
        self.relay.handle(event)
        return []

    def stop(self) -> None:
        super().stop()
        if self.relay is not None:
            self.relay.close()


def new() -> KairosFunction:
    return AlertRelayFunction()
