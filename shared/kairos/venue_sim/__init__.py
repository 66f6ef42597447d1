"""A simulated Binance USD-M futures venue that unmodified ccxt trades against over HTTP.

Layers point one way: ``markets``/``model`` (pure data) <- ``pricepath`` and ``engine``
(pure, deterministic matching and accounting, no I/O) <- ``venue`` (clock + paths +
engine) <- ``binance_api``/``control_api``/``faults`` (aiohttp, thin) <- ``server``/``cli``.
Tests and benchmarks serve it in a thread through ``kairos_testkit.venue_sim``. See
``docs/VENUE_SIM.md`` for how to run it and point ccxt at it.
"""

from __future__ import annotations

DEMO_API_KEY = "kairos-demo-key"
DEMO_API_SECRET = "kairos-demo-secret"
