"""``kairos account``: register venue accounts, rotate their keys, choose their protection.

    kairos account add NAME --venue binanceusdm --mode live [--base-url URL]
                       [--keys-file PATH] [--protection JSON|@PATH|default|none]
    kairos account list
    kairos account rotate-keys NAME [--keys-file PATH]     new venue keys for one account
    kairos account rotate-keys --reseal                     every stored key under the current KEK
    kairos account protect (--account NAME | --strategy ID) --protection JSON|@PATH|default|none

Keys are read from a hidden prompt, or from a file (JSON ``{"api_key": ..., "secret": ...}`` or
two lines: key, then secret), and sealed at once with the key-encryption key
(``KAIROS_EXCHANGE_KEK``, ``kairos.execution.vault``) before anything is written; they are
never printed, logged or echoed. The database is ``DATABASE_URL`` (migrated first, so the
command works before any function has started).

Protection (``kairos.portfolio.protection_settings``): a JSON ``Protection``
(``{"take_profits": [{"distance_pct": "1", "fraction": "1"}], "stop_loss": {"distance_pct": "1"}}``),
``default`` (the safe default, stored explicitly) or ``none`` (protect nothing: warned about).
A LIVE account added without ``--protection`` gets the safe default stored, and is told so.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import psycopg
from pydantic import ValidationError

from kairos.errors import ConfigError
from kairos.execution import accounts
from kairos.execution.vault import KeyUnavailable, KeyVault
from kairos.portfolio import protection_settings
from kairos.portfolio.config import SAFE_DEFAULT
from kairos.positions.model import Protection
from kairos.runtime.db import migrate
from kairos.venues.port import Credentials

WHO = "kairos account"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="register (or replace) an account; keys are sealed at once")
    add.add_argument("name")
    add.add_argument("--venue", default="binanceusdm", help="venue id (default binanceusdm)")
    add.add_argument("--mode", choices=("live", "shadow"), required=True)
    add.add_argument("--base-url", default=None, help="the venue's API address (default: the venue's own)")
    add.add_argument("--keys-file", type=Path, default=None, help="read keys from this file instead of a prompt")
    add.add_argument("--no-keys", action="store_true", help="a SHADOW account without venue keys")
    add.add_argument("--protection", default=None, help="JSON, @file, 'default' or 'none'")
    sub.add_parser("list", help="accounts, their key id and protection (never a key)")
    rot = sub.add_parser("rotate-keys", help="new keys for one account, or --reseal every key under the current KEK")
    rot.add_argument("name", nargs="?")
    rot.add_argument("--keys-file", type=Path, default=None)
    rot.add_argument("--reseal", action="store_true", help="re-encrypt every stored key with KAIROS_EXCHANGE_KEK")
    pro = sub.add_parser("protect", help="store protection settings for an account or a strategy")
    target = pro.add_mutually_exclusive_group(required=True)
    target.add_argument("--account")
    target.add_argument("--strategy", help="the strategy_id its orders carry")
    pro.add_argument("--protection", required=True, help="JSON, @file, 'default' or 'none'")


def run(args: argparse.Namespace) -> int:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        print("kairos account: DATABASE_URL is not set (the Postgres the functions use)", file=sys.stderr)
        return 2
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            action = {"add": _add, "list": _list, "rotate-keys": _rotate, "protect": _protect}[args.action]
            return action(conn, args)
    except (ConfigError, KeyUnavailable, ValueError) as exc:
        print(f"kairos account {args.action}: {exc}", file=sys.stderr)
        return 2


def _add(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    vault = KeyVault.from_env()
    creds = None if args.no_keys else read_credentials(args.keys_file)
    if creds is None and args.mode == "live":
        raise ValueError("a LIVE account needs keys (drop --no-keys)")
    protection = parse_protection(args.protection) if args.protection else None
    with conn.transaction():
        accounts.register(conn, vault, args.name, venue=args.venue, mode=args.mode, base_url=args.base_url,
                          creds=creds)  # fmt: skip
        if protection is None and args.mode == "live" and protection_settings.get(conn, "account", args.name) is None:
            protection = SAFE_DEFAULT
            print(f"warning: no --protection given: account {args.name} gets the safe default "
                  f"({_describe(SAFE_DEFAULT)}); change it with 'kairos account protect --account {args.name}'",
                  file=sys.stderr)  # fmt: skip
        if protection is not None:
            protection_settings.put(conn, "account", args.name, protection, WHO)
    print(f"account {args.name}: {args.mode} on {args.venue}, keys {'sealed' if creds else 'none'}")
    _warn_if_unprotected("account", args.name, protection, args.mode)
    return 0


def _list(conn: psycopg.Connection, _args: argparse.Namespace) -> int:
    rows = conn.execute(
        "SELECT a.account, a.venue, a.mode, coalesce(a.base_url, ''), coalesce(a.key_id, '-'), s.protection"
        " FROM exec_accounts a LEFT JOIN protection_settings s ON s.scope = 'account' AND s.name = a.account"
        " ORDER BY a.account"
    ).fetchall()
    print(f"{'ACCOUNT':<20} {'VENUE':<12} {'MODE':<7} {'KEY':<6} PROTECTION")
    for name, venue, mode, _base, key_id, stored in rows:
        shown = _describe(Protection.model_validate(stored)) if stored is not None else "(not set: default applies)"
        print(f"{name:<20} {venue:<12} {mode:<7} {key_id:<6} {shown}")
    strategies = conn.execute(
        "SELECT name, protection FROM protection_settings WHERE scope = 'strategy' ORDER BY name"
    ).fetchall()
    for name, stored in strategies:
        print(f"strategy {name}: {_describe(Protection.model_validate(stored))}")
    return 0


def _rotate(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    vault = KeyVault.from_env()
    if args.reseal:
        rows = conn.execute(
            "SELECT account, key_id, key_ciphertext FROM exec_accounts WHERE key_ciphertext IS NOT NULL"
            " AND key_id <> %s", (vault.current,),
        ).fetchall()
        with conn.transaction():
            for account, key_id, blob in rows:
                key_id_new, sealed = vault.seal(account, vault.open(account, key_id, bytes(blob)))
                conn.execute("UPDATE exec_accounts SET key_id = %s, key_ciphertext = %s, updated_at = now()"
                             " WHERE account = %s", (key_id_new, sealed, account))  # fmt: skip
        print(f"re-sealed {len(rows)} account key(s) with KEK {vault.current}")
        return 0
    if not args.name:
        raise ValueError("name the account whose keys to replace, or use --reseal")
    acct = accounts.load(conn, args.name)
    if acct is None:
        raise ValueError(f"no account {args.name}; add it with 'kairos account add'")
    key_id, sealed = vault.seal(acct.account, read_credentials(args.keys_file))
    conn.execute("UPDATE exec_accounts SET key_id = %s, key_ciphertext = %s, updated_at = now() WHERE account = %s",
                 (key_id, sealed, acct.account))  # fmt: skip
    print(f"account {acct.account}: new keys sealed with KEK {key_id}; restart the executor and the reconciler "
          "(they cache the venue client)")  # fmt: skip
    return 0


def _protect(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    protection = parse_protection(args.protection)
    scope: protection_settings.Scope = "account" if args.account else "strategy"
    name = args.account or args.strategy
    protection_settings.put(conn, scope, name, protection, WHO)
    print(f"{scope} {name}: {_describe(protection)} (new positions; open ones keep theirs)")
    mode = None
    if scope == "account":
        acct = accounts.load(conn, name)
        mode = acct.mode if acct else None
    _warn_if_unprotected(scope, name, protection, mode)
    return 0


def read_credentials(path: Path | None) -> Credentials:
    """From a file (JSON or two lines) or a hidden prompt; never echoed."""
    if path is not None:
        text = path.read_text().strip()
        if text.startswith("{"):
            data: Any = json.loads(text)
            key, secret = str(data.get("api_key", "")), str(data.get("secret", ""))
        else:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            key, secret = [*lines, "", ""][:2]
    else:
        key = getpass.getpass("API key: ").strip()
        secret = getpass.getpass("API secret: ").strip()
    if not key or not secret:
        raise ValueError("both an API key and a secret are needed (file: JSON api_key/secret, or two lines)")
    return Credentials(api_key=key, secret=secret)


def parse_protection(text: str) -> Protection:
    """``default``, ``none``, a JSON object, or ``@path`` to one."""
    if text == "default":
        return SAFE_DEFAULT
    if text == "none":
        return Protection()
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return Protection.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(f"protection is not valid: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from None


def _describe(p: Protection) -> str:
    if p.empty:
        return "none (not protected)"
    return p.model_dump_json(exclude_none=True)


def _warn_if_unprotected(scope: str, name: str, protection: Protection | None, mode: str | None) -> None:
    if protection is not None and protection.empty and (scope == "strategy" or mode == "live"):
        print(f"warning: {scope} {name} is set to protect nothing: its positions get no TP/SL", file=sys.stderr)
