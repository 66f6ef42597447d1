"""Webhook bodies of an alert: Telegram Bot API ``sendMessage`` or a generic JSON document.

Telegram: ``POST https://api.telegram.org/bot<token>/sendMessage`` with ``chat_id`` and
``text`` (plain text, no parse mode, so nothing in a message can break its markup).
Generic JSON: every field of the alert plus its id, time and source, for a chat bridge,
an incident tool or a script.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kairos.contracts.ops import Alert

FORMATS = ("telegram", "json")
#: Telegram refuses a text longer than 4096 characters.
TELEGRAM_MAX_TEXT = 4096
ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def alert_text(alert: Alert, *, suppressed: Mapping[str, int] | None = None) -> str:
    """The human text: severity and code, what happened, what to do, then the details."""
    lines = [f"{ICONS[alert.severity]} {alert.severity.upper()} {alert.code} ({alert.component})", alert.message]
    if alert.action:
        lines.append(f"Action: {alert.action}")
    if alert.details:
        lines.append("Details: " + json.dumps(alert.details, sort_keys=True, default=str))
    if suppressed:
        counted = ", ".join(f"{code} x{n}" for code, n in sorted(suppressed.items()))
        lines.append(f"Also, held back by the rate limit since the last message: {counted} (all on ops.alert)")
    text = "\n".join(lines)
    return text if len(text) <= TELEGRAM_MAX_TEXT else text[: TELEGRAM_MAX_TEXT - 1] + "…"


def telegram_body(alert: Alert, chat_id: str, *, suppressed: Mapping[str, int] | None = None) -> dict[str, Any]:
    return {
        "chat_id": chat_id,
        "text": alert_text(alert, suppressed=suppressed),
        "disable_web_page_preview": True,
    }


def json_body(
    alert: Alert, alert_id: str, time: datetime, source: str, *, suppressed: Mapping[str, int] | None = None
) -> dict[str, Any]:
    return {
        "id": alert_id,
        "time": time.isoformat(),
        "source": source,
        "severity": alert.severity,
        "code": alert.code,
        "component": alert.component,
        "message": alert.message,
        "action": alert.action,
        "details": alert.details or {},
        "suppressed_since_last": dict(suppressed or {}),
        "text": alert_text(alert, suppressed=suppressed),
    }
