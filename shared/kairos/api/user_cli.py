"""``kairos user add NAME --role viewer|trader|admin`` and ``kairos user list``.

The password comes from ``--password-file`` or the terminal; with ``--generate`` a random
one is created and printed once (what ``make run`` does for the first admin).
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

import psycopg

from kairos.api import users
from kairos.runtime.db import migrate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="default: $DATABASE_URL")
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create a user, or give an existing one a new password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=users.ROLES, required=True)
    group = add.add_mutually_exclusive_group()
    group.add_argument("--password-file", type=Path, help="read the password from this file (first line)")
    group.add_argument("--generate", action="store_true", help="generate a password and print it once")
    sub.add_parser("list", help="users and their roles")


def run(args: argparse.Namespace) -> int:
    if not args.database_url:
        print("kairos user: no database: give --database-url or set DATABASE_URL (make run prints it)")
        return 2
    migrate(args.database_url)
    with psycopg.connect(args.database_url) as conn:
        if args.action == "list":
            for name, role, disabled in conn.execute("SELECT username, role, disabled FROM api_users ORDER BY 1"):
                print("\t".join([name, role] + (["disabled"] if disabled else [])))
            return 0
        if args.generate:
            password = users.generated_password()
        elif args.password_file:
            password = args.password_file.read_text().splitlines()[0]
        else:
            password = getpass.getpass(f"password for {args.name}: ")
        try:
            users.add(conn, args.name, password, args.role)
        except ValueError as exc:
            print(f"kairos user add: {exc}")
            return 2
    print(f"user {args.name}: role {args.role}" + (f", password {password}" if args.generate else ""))
    return 0
