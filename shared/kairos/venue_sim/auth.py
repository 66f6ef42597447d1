"""Binance request signing as the venue checks it: API key, HMAC-SHA256, timestamp window.

The signature covers the raw query string concatenated with the raw body, exactly as
sent (ccxt puts everything in one of the two), minus the trailing ``signature=`` pair.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from kairos.venue_sim.model import VenueError

MAX_RECV_WINDOW = 60_000


def strip_signature(raw: str) -> tuple[str, str | None]:
    """Split ``a=1&b=2&signature=ff`` into (``a=1&b=2``, ``ff``)."""
    parts = raw.split("&") if raw else []
    kept, signature = [], None
    for part in parts:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def sign(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify(
    *,
    api_key: str | None,
    raw_query: str,
    raw_body: str,
    params: Mapping[str, str],
    secrets: Mapping[str, str],
    server_ms: int,
) -> str:
    """Return the account key of a correctly signed request, else raise Binance's error.

    Order of checks follows the venue: key present (-2014), key known (-2015), timestamp
    and recvWindow (-1102/-1021), signature (-1022).
    """
    if not api_key:
        raise VenueError(-2014, "API-key format invalid.", 401)
    secret = secrets.get(api_key)
    if secret is None:
        raise VenueError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    ts_raw = params.get("timestamp")
    if not ts_raw or not ts_raw.isdigit():
        raise VenueError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    recv_raw = params.get("recvWindow", "5000")
    if not recv_raw.isdigit() or int(recv_raw) > MAX_RECV_WINDOW:
        raise VenueError(-1131, "recvWindow must be less than 60000")
    ts, recv = int(ts_raw), int(recv_raw)
    if ts > server_ms + 1000 or server_ms - ts > recv:
        raise VenueError(-1021, "Timestamp for this request is outside of the recvWindow.")
    query, sig_q = strip_signature(raw_query)
    body, sig_b = strip_signature(raw_body)
    signature = sig_b or sig_q
    if not signature:
        raise VenueError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    expected = sign(query + body, secret)
    if not hmac.compare_digest(expected, signature.lower()):
        raise VenueError(-1022, "Signature for this request is not valid.")
    return api_key
