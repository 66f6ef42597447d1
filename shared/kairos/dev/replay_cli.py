"""``kairos replay``: re-publish archived (or retained) events into an isolated copy of the
pipeline and report counts, the output digest and how the outputs compare with the original.

    kairos replay --source archive --topics raw.near_intents.quote \\
        --from 2026-11-30T00:00Z --to 2026-11-30T12:00Z --into rebuild-1 [--rate 2000]

Exit code 0 when every compared topic is identical, 3 when one differs (the report lists
the events and attributes), 1 on an error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from kairos.archive.objectstore import ObjectStore, S3Settings
from kairos.archive.replay import iter_report_lines, run_replay
from kairos.dev.archive_cli import resolve_env


def _when(text: str) -> datetime:
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=["archive", "topic"], required=True)
    parser.add_argument("--topics", required=True, help="comma-separated topics to replay")
    parser.add_argument("--from", dest="start", type=_when, required=True, help="first event time (ISO 8601)")
    parser.add_argument("--to", dest="end", type=_when, required=True, help="end of the window, exclusive")
    parser.add_argument("--into", required=True,
                        help="the copy's name: database kairos_replay_NAME, topics replay.NAME.*")
    parser.add_argument("--rate", type=float, default=None, help="events per second (default: as fast as it goes)")
    parser.add_argument("--stages", default="", help="comma-separated functions to run (default: every stage"
                        " downstream of the topics that cannot reach outside the cluster)")
    parser.add_argument("--no-compare", action="store_true", help="skip comparing outputs with the originals")
    parser.add_argument("--state-dir", default=None, help="kairos dev's state folder (default .state)")


def _progress_bar() -> tuple[Callable[[int], Callable[[int], None]], Callable[[], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   disable=not sys.stderr.isatty())
    bar.start()

    def make(total: int) -> Callable[[int], None]:
        task = bar.add_task("replay", total=total)
        return lambda n: bar.advance(task, n)

    return make, bar.stop


def run(args: argparse.Namespace) -> int:
    env = resolve_env(args.state_dir)
    store = ObjectStore(S3Settings.from_env(env)) if args.source == "archive" else None
    make, stop = _progress_bar()
    try:
        report = run_replay(
            source=args.source,
            topics=[t.strip() for t in args.topics.split(",") if t.strip()],
            start=args.start,
            end=args.end,
            into=args.into,
            env=env,
            store=store,
            stages=[s.strip() for s in args.stages.split(",") if s.strip()] or None,
            rate=args.rate,
            compare_outputs=not args.no_compare,
            progress=make,
        )
    finally:
        stop()
    for line in iter_report_lines(report):
        print(line)
    return 0 if all(c.identical for c in report.comparisons) else 3
