"""The ``kairos`` command line: one entry point, one subcommand per capability.

Subcommands live in their own modules and are imported lazily, so a broken or slow
import in one capability never stops the others (and ``kairos --help`` stays fast).
Each module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module, one-line help). Add a line here to add a subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "schemas": ("kairos.contracts.schema_cli", "write schemas/ from the pydantic models"),
    "catalog": ("kairos.catalog.cli", "print or check the topic/function/cron catalog"),
    "manifests": ("kairos.deploy.manifests_cli", "write k8s/knative/ and functions' func.yaml from the catalog"),
    "serve": ("kairos.runtime.serve", "serve one function directory with func-python"),
    "deliver": ("kairos.delivery.cli", "run the local KafkaSource/PingSource deliveries"),
    "fake-solver-bus": ("kairos.venues.near_intents.fake_bus", "run the local NEAR Intents solver bus"),
    "ingest-near-intents": ("kairos.venues.near_intents.ingest", "run the NEAR Intents websocket ingest"),
    "venue-sim": ("kairos.venue_sim.cli", "run the simulated Binance USD-M futures venue"),
    "dev": ("kairos.dev.runner", "run the whole system locally with a live view (what make run calls)"),
    "invoke": ("kairos.dev.invoke", "send one CloudEvent to a function and show what it emitted"),
    "status": ("kairos.dev.status", "health of every function, topic lag, dead letters, outbox backlog"),
    "dlq": ("kairos.dev.dlq", "list, show and replay dead letters"),
    "market": ("kairos.marketdata.market_cli", "market data subscriptions; the ticker source (market tickers)"),
    "candles": ("kairos.marketdata.candles_cli", "backfill candle history, import a candle file, list gaps"),
    "account": ("kairos.portfolio.account_cli", "add, list, rotate the keys of venue accounts; protection settings"),
    "control": ("kairos.execution.control_cli", "stop or resume new strategy orders (strategy_control); status"),
    "risk": ("kairos.risk.cli", "risk limits (versioned), kill switches (kill/release), the guardian's decisions"),
    "portfolio": ("kairos.portfolio.portfolio_cli", "balances, positions with PnL, the last snapshots, with as of"),
    "archive": ("kairos.dev.archive_cli", "the event archive: ls, verify, flush"),
    "replay": ("kairos.dev.replay_cli", "replay archived or retained events into an isolated copy of the pipeline"),
    "backtest": ("kairos.backtest.cli", "backtest a strategy over stored candles; list, show, compare, report runs"),
    "strategy": ("kairos.strategies.cli", "validate, create, list, show, start and stop rule-based strategies"),
    "user": ("kairos.api.user_cli", "operator API users: add (with a role), list"),
    "new": ("kairos.scaffold.cli", "create a new stage: function project, catalog entry, test skeleton"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kairos", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in sorted(COMMANDS.items()):
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        parser = build_parser()
        if args and args[0] not in ("-h", "--help"):
            parser.print_usage(sys.stderr)
            print(f"kairos: unknown command {args[0]!r}; see 'kairos --help'", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    name = args[0]
    module = importlib.import_module(COMMANDS[name][0])
    sub = argparse.ArgumentParser(prog=f"kairos {name}", description=COMMANDS[name][1])
    module.add_arguments(sub)
    parsed = sub.parse_args(args[1:])
    result = module.run(parsed)
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
