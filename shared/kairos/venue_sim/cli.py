"""``kairos venue-sim``: run the simulated Binance USD-M futures venue standalone.

The account named by ``--api-key``/``--api-secret`` starts funded; without them the demo
account's credentials are printed so a client can be pointed at the venue at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from decimal import Decimal
from pathlib import Path

from kairos.venue_sim import DEMO_API_KEY, DEMO_API_SECRET
from kairos.venue_sim.faults import FaultState, load_fault_file
from kairos.venue_sim.pricepath import BUNDLED_CANDLES
from kairos.venue_sim.server import AuditLog, VenueServer
from kairos.venue_sim.venue import AccountSeed, Venue, VenueConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1, help="price paths and fault draws derive from it")
    parser.add_argument("--api-key", help="funded account's API key (default: a printed demo key)")
    parser.add_argument("--api-secret", help="its secret")
    parser.add_argument("--balance", default="100000", help="starting USDT wallet of that account")
    parser.add_argument("--data", type=Path, help="candle CSV to replay ('bundled' for the packaged file)")
    parser.add_argument("--faults", type=Path, help="YAML/JSON fault file (rules, clock_offset_ms, maintenance)")
    parser.add_argument("--clock", choices=("realtime", "stepped"), default="realtime")
    parser.add_argument("--speed", type=float, default=1.0, help="market ticks per wall tick (> 1 accelerates)")
    parser.add_argument("--tick-ms", type=int, default=1000)
    parser.add_argument("--warmup-ticks", type=int, default=3600, help="price history served from the start")
    parser.add_argument("--audit-log", type=Path, help="append every request as a JSON line here")
    parser.add_argument("--log-level", default="INFO")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if bool(args.api_key) != bool(args.api_secret):
        print("kairos venue-sim: give both --api-key and --api-secret, or neither for the demo account",
              file=sys.stderr)  # fmt: skip
        return 2
    key, secret = args.api_key or DEMO_API_KEY, args.api_secret or DEMO_API_SECRET
    data = BUNDLED_CANDLES if args.data is not None and str(args.data) == "bundled" else args.data
    if data is not None and not data.exists():
        print(f"kairos venue-sim: candle file {data} does not exist", file=sys.stderr)
        return 2
    faults = FaultState(seed=args.seed)
    if args.faults is not None:
        try:
            faults.configure(load_fault_file(args.faults))
        except (OSError, ValueError, TypeError) as exc:
            print(f"kairos venue-sim: cannot use fault file {args.faults}: {exc}", file=sys.stderr)
            return 2
    venue = Venue(
        VenueConfig(seed=args.seed, data=data, accounts=[AccountSeed(key, secret, Decimal(args.balance))],
                    tick_ms=args.tick_ms, warmup_ticks=args.warmup_ticks, clock=args.clock, speed=args.speed)
    )  # fmt: skip
    server = VenueServer(venue, faults, AuditLog(args.audit_log), args.host, args.port)
    return asyncio.run(_serve(server, key, secret, demo=not args.api_key))


async def _serve(server: VenueServer, key: str, secret: str, *, demo: bool) -> int:
    port = await server.start()
    base = f"http://{server.host}:{port}"
    print(f"venue simulator: {base}  (control API: {base}/_sim/health)", flush=True)
    if demo:
        print(f"demo account: api key {key}  secret {secret}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    return 0
