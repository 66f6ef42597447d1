"""slo-monitor's tick: protection timestamps from ``positions`` and placement counts from the
executor's orders -> the core's ``slo.evaluate`` -> alerts, gauges and the optional webhook.

The webhook speaks the Telegram Bot API (``POST <url>`` with the ``sendMessage`` JSON body,
``url`` = ``https://api.telegram.org/bot<token>/sendMessage``); it is best effort: the alerts
are on ``ops.alert`` already, so a webhook failure is logged, never retried through the tick.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import httpx
import psycopg
from prometheus_client import Gauge

from kairos.contracts.ops import Alert
from kairos.positions.slo import ProtectionRecord, SloReport, evaluate, telegram_message

log = logging.getLogger("kairos.slo_monitor")
WINDOW = timedelta(hours=24)

UNPROTECTED = Gauge("kairos_positions_unprotected", "Open positions currently lacking TP/SL")
UNPROTECTED_MAX = Gauge("kairos_positions_unprotected_max_seconds", "Longest current time without TP/SL")
DELAY_P99 = Gauge("kairos_positions_protection_delay_p99_seconds", "Open to TP+SL resting, p99 over 24 h")
SUCCESS = Gauge("kairos_positions_placement_success_ratio", "Protective placements not rejected, over 24 h")


def report(conn: psycopg.Connection, now: datetime) -> SloReport:
    rows = conn.execute(
        "SELECT position_id, opened_at, protected_at, unprotected_since, closed_at FROM positions"
        " WHERE protect AND (status <> 'CLOSED' OR closed_at > %s)", (now - WINDOW,),
    ).fetchall()
    counts = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE o.state <> 'REJECTED') FROM position_protective_orders l"
        " JOIN orders o ON o.command_id = l.command_id WHERE o.created_at > %s", (now - WINDOW,),
    ).fetchone()
    assert counts is not None
    rep = evaluate([ProtectionRecord(*r) for r in rows], now,
                   placements_attempted=int(counts[0]), placements_succeeded=int(counts[1]))
    UNPROTECTED.set(len(rep.unprotected))
    UNPROTECTED_MAX.set(rep.unprotected[0][1] if rep.unprotected else 0)
    DELAY_P99.set(rep.delay_p99_s or 0)
    SUCCESS.set(rep.placement_success_rate if rep.placement_success_rate is not None else 1)
    return rep


def notify(alerts: Sequence[Alert], env: Mapping[str, str]) -> int:
    """POST each alert to ``KAIROS_SLO_WEBHOOK_URL`` (Telegram format, ``KAIROS_SLO_WEBHOOK_CHAT_ID``);
    returns how many were accepted. No URL configured: nothing is sent."""
    url = env.get("KAIROS_SLO_WEBHOOK_URL", "").strip()
    if not url or not alerts:
        return 0
    chat = env.get("KAIROS_SLO_WEBHOOK_CHAT_ID", "")
    sent = 0
    with httpx.Client(timeout=3.0) as client:
        for alert in alerts:
            try:
                client.post(url, json=telegram_message(alert, chat)).raise_for_status()
                sent += 1
            except httpx.HTTPError as exc:
                log.warning("SLO webhook failed; the alert is on ops.alert anyway",
                            extra={"code": alert.code, "reason": str(exc)})
    return sent
