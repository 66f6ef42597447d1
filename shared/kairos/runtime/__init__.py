"""The function runtime every Kairos function shares (inbox, outbox, answers, health).

A function's business logic is a plain handler ``(event, ctx) -> list[Envelope]``; the
runtime around it does the transaction, dedupe, outbox, publish and HTTP answer.
"""

from kairos.runtime.function import Context, KairosFunction

__all__ = ["Context", "KairosFunction"]
