"""The one place a ccxt ``binanceusdm`` client is built, for Binance itself or another host.

Without a base URL the client talks to Binance's production hosts with ccxt's defaults
(client-side rate limiting on). With one (the simulator, ``kairos venue-sim``), only
configuration is passed to ccxt's own constructor; nothing is patched or subclassed:

1. every entry of ``urls['api']`` is replaced by the base URL plus the same path
   (``https://fapi.binance.com/fapi/v1`` -> ``http://127.0.0.1:PORT/fapi/v1``);
2. ccxt chooses Binance's futures-specific error table by matching the *production*
   hostname of the request URL (``binance.get_exceptions_by_url``), so for any other host
   it falls back to the generic table, where -2019, -2021, -2022, -4164 and -4116 are
   missing and would surface as a bare ``ExchangeError``. We hand ccxt its own linear
   table as the generic one (linear entries first, exactly the lookup order it uses
   against fapi.binance.com), so the exception classes match production;
3. ccxt's client-side rate limiter is off (the host answers 429 itself) and currencies are
   not fetched (that endpoint belongs to Binance's spot API).

Every client signs with a ``recvWindow`` of ``RECEIVE_WINDOW_MS`` (ccxt's own default is
10 s): a signed request older than that is refused by the venue, so once that long has
passed since an unanswered send, "not found" means it will never execute. The executor
waits longer than this window before it re-sends an order (``resend_grace_s``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import ccxt
import ccxt.async_support


def rebased_urls(base_url: str, template: dict[str, Any]) -> dict[str, str]:
    """Map each of ccxt's API URLs onto ``base_url`` keeping its path."""
    base = base_url.rstrip("/")
    return {name: base + urlsplit(url).path for name, url in template.items() if isinstance(url, str)}


RECEIVE_WINDOW_MS = 5000


def make_client(
    base_url: str | None, api_key: str = "", secret: str = "", *, async_: bool = False, **options: Any
) -> Any:
    """Return ``ccxt.binanceusdm`` (or its ``async_support`` twin) for ``base_url``.

    ``base_url`` None means Binance's production hosts. ``options`` go into ccxt's
    ``options`` dict (e.g. ``recvWindow``); pass ``timeout`` (ms), ``ssl_context`` and other
    top-level ccxt settings via ``options['config']``.
    """
    cls = ccxt.async_support.binanceusdm if async_ else ccxt.binanceusdm
    config: dict[str, Any] = dict(options.pop("config", {}))
    options = {"recvWindow": RECEIVE_WINDOW_MS, **options}
    config.update(apiKey=api_key, secret=secret)
    if base_url is None:
        config.setdefault("enableRateLimit", True)
        config["options"] = options
        return cls(config)
    probe = ccxt.binanceusdm()
    exceptions = probe.exceptions
    exact = {**exceptions["exact"], **exceptions["linear"]["exact"]}
    broad = {**exceptions["broad"], **exceptions["linear"].get("broad", {})}
    config.update(
        enableRateLimit=False,
        urls={"api": rebased_urls(base_url, probe.urls["api"])},
        exceptions={"exact": exact, "broad": broad},
        options={"fetchCurrencies": False, **options},
    )
    return cls(config)
