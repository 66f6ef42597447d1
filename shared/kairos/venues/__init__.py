"""Venues, one package per venue (ingest, normalize, execute), behind one port.

``port`` is what Kairos needs from a venue; ``registry`` finds a trading venue's package by
the name accounts store; ``markets``, ``book`` and ``ccxt_runtime`` are the venue-neutral
pieces the packages (and SHADOW, and the simulator) share. docs/VENUES.md.
"""
