"""``kairos archive ls | verify | flush``: what the archive holds, whether it is intact, and
a flush now (what archive-flush does every minute).

Settings come from the environment (``DATABASE_URL``, ``AWS_ENDPOINT_URL``, the bucket,
``AWS_*`` credentials: production), else from the system ``make run`` is running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

import psycopg

from kairos.archive import flush as flushing
from kairos.archive.inventory import manifest, staged_counts, summarize, verify
from kairos.archive.objectstore import ObjectStore, S3Settings
from kairos.dev.state import StateDir, default_state_dir, read_live_run_info


def resolve_env(state_dir: str | None) -> dict[str, str]:
    """The process environment when it names a database, else the running ``kairos dev``'s
    database, broker and S3 endpoint (ConfigError when neither exists)."""
    env = dict(os.environ)
    if env.get("DATABASE_URL"):
        return env
    info = read_live_run_info(StateDir(Path(state_dir) if state_dir else default_state_dir()))
    env.update(info.s3)
    env.update({"DATABASE_URL": info.database_url, "KAFKA_BOOTSTRAP_SERVERS": info.kafka_bootstrap,
                "KAIROS_KAFKA_PROFILE": info.kafka_profile})
    return env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    for name, text in (("ls", "objects, events and gaps per topic and day (from the manifest)"),
                       ("verify", "read every object back: missing, corrupt, unlisted, stuck; exit 1 on any"),
                       ("flush", "seal and upload now (--all: also groups that are not due yet)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--state-dir", default=None, help="kairos dev's state folder (default .state)")
        if name != "flush":
            p.add_argument("--topic", action="append", default=[], help="only this topic (repeatable)")
            p.add_argument("--day", type=date.fromisoformat, default=None, help="only this UTC day (YYYY-MM-DD)")
            p.add_argument("--from", dest="start", type=date.fromisoformat, default=None, help="first UTC day")
            p.add_argument("--to", dest="end", type=date.fromisoformat, default=None, help="last UTC day")
            p.add_argument("--json", action="store_true", help="one JSON document")
        else:
            p.add_argument("--all", action="store_true", help="seal every staged event, due or not")


def run(args: argparse.Namespace) -> int:
    env = resolve_env(args.state_dir)
    start = getattr(args, "day", None) or getattr(args, "start", None)
    end = getattr(args, "day", None) or getattr(args, "end", None)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        if args.action == "ls":
            return _ls(conn, args, start, end)
        store = ObjectStore(S3Settings.from_env(env))
        if args.action == "flush":
            settings = flushing.FlushSettings.from_env(env)
            result = flushing.flush(conn, store, settings.policy, force=args.all)
            print(f"archived {result.events} events in {result.objects} objects; backlog {result.backlog.events}"
                  f" events, {result.backlog.pending_objects} pending objects")
            if result.error:
                print(f"error: {result.error}", file=sys.stderr)
                return 1
            return 0
        report = verify(conn, store, args.topic, start, end)
    if args.json:
        print(json.dumps({"checked": report.checked, "events": report.events, "ok": report.ok,
                          "problems": [p.__dict__ for p in report.problems], "gaps": report.gaps}, indent=2))
    else:
        print(f"checked {report.checked} objects, {report.events} events: "
              f"{'OK' if report.ok else f'{len(report.problems)} problem(s)'}")
        for p in report.problems:
            print(f"  {p.kind:10} {p.key}: {p.detail}")
        for topic, hours in sorted(report.gaps.items()):
            print(f"  gap        {topic}: no object for {len(hours)} hour(s): {', '.join(hours[:12])}"
                  f"{' …' if len(hours) > 12 else ''}")
    return 0 if report.ok else 1


def _ls(conn: psycopg.Connection, args: argparse.Namespace, start: date | None, end: date | None) -> int:
    days = summarize(manifest(conn, args.topic, start, end))
    staged = staged_counts(conn)
    if args.json:
        print(json.dumps({
            "days": [{"topic": d.topic, "dt": d.dt.isoformat(), "objects": d.objects, "events": d.events,
                      "bytes": d.bytes, "hours": sorted(d.hours), "gaps": d.gaps} for d in days],
            "staged": staged,
        }, indent=2))  # fmt: skip
        return 0
    if not days:
        print("nothing archived yet")
    else:
        print(f"{'topic':28} {'day':10} {'objects':>7} {'events':>9} {'bytes':>11}  hours   gaps")
    for d in days:
        hours = f"{min(d.hours):02d}-{max(d.hours):02d}" if d.hours else "-"
        gaps = ",".join(f"{h:02d}" for h in d.gaps) or "-"
        print(f"{d.topic:28} {d.dt.isoformat():10} {d.objects:>7} {d.events:>9} {d.bytes:>11}  {hours:6}  {gaps}")
    for topic, n in sorted(staged.items()):
        if not args.topic or topic in args.topic:
            print(f"staged, not yet archived: {topic}: {n}")
    return 0
