"""``kairos control status|stop|resume``: the operator's switch over new strategy orders.

``strategy_control`` holds one row per scope (``all``, or a strategy id) that the strategy
and risk stages honour. The executor's recovery stops scope ``all`` when it found orders in
flight after a crash (``RECOVERY_COMPLETE`` warning); after reviewing the corrections an
operator resumes here. Works from any machine that reaches the database: ``DATABASE_URL``
(for the cluster, e.g. through ``kubectl port-forward`` to ``kairos-pg-rw``).

    kairos control status
    kairos control stop [--scope all|STRATEGY] --reason TEXT [--by NAME]
    kairos control resume [--scope all|STRATEGY] [--by NAME]
"""

from __future__ import annotations

import argparse
import getpass
import sys

import psycopg
from kairos.errors import ConfigError
from kairos.runtime.db import url_from_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("status", help="every scope, stopped or not, with its reason")
    stop = sub.add_parser("stop", help="stop new strategy orders for a scope")
    stop.add_argument("--scope", default="all", help="'all' (default) or a strategy id")
    stop.add_argument("--reason", required=True)
    stop.add_argument("--by", default=None, help="who (default: your user name)")
    resume = sub.add_parser("resume", help="let a stopped scope trade again")
    resume.add_argument("--scope", default="all", help="'all' (default) or a strategy id")
    resume.add_argument("--by", default=None, help="who (default: your user name)")


def run(args: argparse.Namespace) -> int:
    try:
        with psycopg.connect(url_from_env(), autocommit=True) as conn:
            if args.action == "status":
                rows = conn.execute(
                    "SELECT scope, stopped, reason, updated_by, updated_at FROM strategy_control ORDER BY scope"
                ).fetchall()
                if not rows:
                    print("no scope was ever stopped: strategies trade")
                for scope, stopped, reason, by, at in rows:
                    state = "STOPPED" if stopped else "running"
                    print(f"{scope:<24} {state:<8} {at:%Y-%m-%d %H:%M:%S%z} by {by}: {reason}")
                return 0
            who = args.by or getpass.getuser()
            if args.action == "stop":
                conn.execute(
                    "INSERT INTO strategy_control (scope, stopped, reason, updated_by) VALUES (%s, true, %s, %s)"
                    " ON CONFLICT (scope) DO UPDATE SET stopped = true, reason = EXCLUDED.reason,"
                    " updated_by = EXCLUDED.updated_by, updated_at = now()",
                    (args.scope, args.reason, who),
                )
                print(f"{args.scope}: stopped ({args.reason})")
                return 0
            row = conn.execute(
                "UPDATE strategy_control SET stopped = false, reason = %s, updated_by = %s, updated_at = now()"
                " WHERE scope = %s AND stopped RETURNING 1",
                (f"resumed by {who}", who, args.scope),
            ).fetchone()
            print(f"{args.scope}: resumed" if row else f"{args.scope}: was not stopped; nothing changed")
            return 0
    except ConfigError as exc:
        print(f"kairos control: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        print(f"kairos control: the database refused or did not answer: {exc}", file=sys.stderr)
        return 2
