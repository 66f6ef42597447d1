"""``kairos risk limits|kill|release|decisions``: the guardian's limits and kill switches.

Works from any machine that reaches the database (``DATABASE_URL``). Every change is recorded
with who made it and why: a limit change is a new version (``risk_limits``), a kill switch
change a row of ``risk_kill_switch_log``.

    kairos risk limits                                   # in force, and the kill switches
    kairos risk limits --history                         # every version
    kairos risk limits set SCOPE NAME VALUE --reason TEXT [--id ACCOUNT|STRATEGY] [--by NAME]
    kairos risk limits remove SCOPE NAME --reason TEXT [--id ...]
    kairos risk kill SCOPE [--id ...] --reason TEXT      # SCOPE: global, account, strategy
    kairos risk release SCOPE [--id ...] --reason TEXT
    kairos risk decisions [--last N]                     # the latest approvals and rejections
"""

from __future__ import annotations

import argparse
import getpass
import sys
from decimal import Decimal, InvalidOperation

import psycopg

from kairos.errors import ConfigError
from kairos.risk import limits
from kairos.risk.codes import LIMIT_NAMES
from kairos.runtime.db import url_from_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    lim = sub.add_parser("limits", help="show, set or remove limits")
    lim.add_argument("--history", action="store_true", help="every version, oldest first")
    lsub = lim.add_subparsers(dest="change")
    for name, helptext in (("set", "a new version of a limit"), ("remove", "a version that removes a limit")):
        p = lsub.add_parser(name, help=helptext)
        p.add_argument("scope", choices=limits.SCOPE_KINDS)
        p.add_argument("limit", choices=LIMIT_NAMES)
        if name == "set":
            p.add_argument("value")
        p.add_argument("--id", default=limits.GLOBAL_ID, help="the account or strategy id (not for global)")
        p.add_argument("--reason", required=True)
        p.add_argument("--by", default=None)
    for name in ("kill", "release"):
        p = sub.add_parser(name, help=f"{name} a kill switch")
        p.add_argument("scope", choices=limits.SCOPE_KINDS)
        p.add_argument("--id", default=limits.GLOBAL_ID)
        p.add_argument("--reason", required=True)
        p.add_argument("--by", default=None)
    dec = sub.add_parser("decisions", help="the latest decisions, with reasons")
    dec.add_argument("--last", type=int, default=20)


def _scope_id(args: argparse.Namespace) -> str:
    if args.scope != "global" and args.id == limits.GLOBAL_ID:
        raise limits.BadLimit(f"a {args.scope} scope needs --id (the {args.scope} it applies to)")
    return args.id


def run(args: argparse.Namespace) -> int:
    try:
        with psycopg.connect(url_from_env(), autocommit=True) as conn:
            who = getattr(args, "by", None) or getpass.getuser()
            if args.action == "limits" and args.change is None:
                return _show(conn, args.history)
            if args.action == "limits":
                value = None
                if args.change == "set":
                    try:
                        value = Decimal(args.value)
                    except InvalidOperation:
                        raise limits.BadLimit(f"{args.value!r} is not a number") from None
                v = limits.set_limit(
                    conn, args.scope, _scope_id(args), args.limit, value, actor=who, reason=args.reason
                )
                print(f"{args.scope} {args.id} {args.limit}: version {v}, {'removed' if value is None else value}")
                return 0
            if args.action in ("kill", "release"):
                fn = limits.engage if args.action == "kill" else limits.release
                with conn.transaction():
                    changed = fn(conn, args.scope, _scope_id(args), actor=who, reason=args.reason)
                state = "engaged" if args.action == "kill" else "released"
                print(
                    f"kill switch {args.scope} {args.id}: {state}" if changed else f"already {state}; nothing changed"
                )
                return 0
            rows = conn.execute(
                "SELECT decided_at, outcome, coalesce(reason_code, ''), account, strategy_id, symbol, intent_id,"
                " details->>'message' FROM risk_decisions ORDER BY decided_at DESC LIMIT %s",
                (args.last,),
            ).fetchall()
            for at, outcome, code, account, strategy, symbol, intent_id, message in reversed(rows):
                print(f"{at:%Y-%m-%d %H:%M:%S} {outcome:<8} {code:<22} {account} {strategy} {symbol} {intent_id}"
                      + (f"  {message}" if message else ""))  # fmt: skip
            return 0
    except (ConfigError, limits.BadLimit) as exc:
        print(f"kairos risk: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        print(f"kairos risk: the database refused or did not answer: {exc}", file=sys.stderr)
        return 2


def _show(conn: psycopg.Connection, history: bool) -> int:
    if history:
        for kind, sid, name, version, value, by, reason, at in limits.history(conn):
            shown = "removed" if value is None else value
            print(f"{at:%Y-%m-%d %H:%M:%S} {kind:<8} {sid:<20} {name:<22} v{version} {shown} by {by}: {reason}")
        return 0
    current = limits.current(conn)
    if not current:
        print("no limit in force")
    for lim in current:
        print(f"{lim.scope_kind:<8} {lim.scope_id:<20} {lim.name:<22} {lim.value} (v{lim.version}, "
              f"{lim.set_at:%Y-%m-%d %H:%M} by {lim.set_by}: {lim.reason})")  # fmt: skip
    switches = limits.engaged_switches(conn)
    print("kill switches: " + ("none engaged" if not switches else ""))
    for kind, sid, reason in switches:
        print(f"  ENGAGED {kind} {sid}: {reason}")
    return 0
