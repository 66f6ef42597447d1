"""``kairos dlq list|show|replay``: inspect dead letters and send fixed ones back.

Against the running ``kairos dev`` by default; against a cluster's Kafka with
``--bootstrap-server``, e.g. from a pod in the cluster
(docs/OPERATIONS.md, "Production commands").

A dead letter is the event exactly as the delivery sent it, plus Knative's
``knativeerrorcode``, ``knativeerrordata`` (base64 of the function's answer, which for a
Kairos function is ``{"error": {"code", "reason"}}``) and ``knativeerrordest``. Replay
removes those attributes, optionally replaces the data with a fixed payload, and
publishes the event to the topic it was originally consumed from, which the catalog
names: the dead-letter topic belongs to one function, and that function's subscription
carrying the event's type is the original topic. The event keeps its id: it was refused,
so no inbox row exists for it, and a replay that is itself replayed stays idempotent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from kafka.errors import KafkaError

from kairos.bus import dead_letters
from kairos.bus.dead_letters import DeadLetter, dead_letter_topics, find, fixed_record, original_topic, summary
from kairos.catalog import Catalog, load_catalog
from kairos.dev.state import RunInfo, StateDir, default_state_dir, read_live_run_info
from kairos.errors import ConfigError

__all__ = ["DeadLetter", "dead_letter_topics", "find", "fixed_record", "original_topic", "read_dead_letters", "run"]


def read_dead_letters(info: RunInfo, topics: list[str]) -> list[DeadLetter]:
    return dead_letters.read(info.kafka_bootstrap, topics, profile=info.kafka_profile)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument(
        "--bootstrap-server",
        help="a cluster's Kafka (host:port, e.g. kairos-kafka-bootstrap.kafka.svc:9092) instead of kairos dev's",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="every dead letter: ref, event id, type, error")
    ls.add_argument("--function", help="only this function's dead letters")
    ls.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="one dead letter in full")
    show.add_argument("ref", help="topic:partition:offset or event id")
    show.add_argument("--data-only", action="store_true", help="print only the data (to edit and replay)")
    replay = sub.add_parser("replay", help="publish dead letters to their original topic again")
    replay.add_argument("refs", nargs="*", help="topic:partition:offset or event id")
    replay.add_argument("--all", action="store_true", help="every dead letter (of --function, if given)")
    replay.add_argument("--function", help="with --all: only this function's dead letters")
    replay.add_argument("--data", help="fixed payload (JSON or @file) replacing the event's data")
    replay.add_argument("--topic", help="publish here instead of the catalog's original topic")
    replay.add_argument("--dry-run", action="store_true", help="say what would be published")
    for sub_parser in (ls, show, replay):  # accepted after the action too
        sub_parser.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS)
        sub_parser.add_argument("--bootstrap-server", default=argparse.SUPPRESS)


def cluster_run_info(bootstrap: str, state_dir: Path) -> RunInfo:
    """What the commands need to work on a cluster's Kafka without ``kairos dev``: the broker
    (with Kafka's own client settings, ``KAIROS_KAFKA_PROFILE`` else ``kafka``) and a folder
    for the replay log."""
    state_dir.mkdir(parents=True, exist_ok=True)
    return RunInfo(
        runner_pid=0,
        phase="running",
        state_dir=str(state_dir),
        kafka_bootstrap=bootstrap,
        kafka_profile=os.environ.get("KAIROS_KAFKA_PROFILE", "kafka"),
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.bootstrap_server:
            info = cluster_run_info(args.bootstrap_server, args.state_dir or default_state_dir())
        else:
            info = read_live_run_info(StateDir(args.state_dir or default_state_dir()))
        catalog = load_catalog()
        if args.action == "list":
            return cmd_list(info, catalog, args)
        if args.action == "show":
            return cmd_show(info, catalog, args)
        return cmd_replay(info, catalog, args)
    except ConfigError as exc:
        print(f"kairos dlq: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:
        where = args.bootstrap_server or "kairos dev's broker"
        print(f"kairos dlq: the broker does not answer ({exc}); is {where} reachable?", file=sys.stderr)
        return 2


def cmd_list(info: RunInfo, catalog: Catalog, args: argparse.Namespace) -> int:
    letters = read_dead_letters(info, dead_letter_topics(catalog, args.function))
    if args.json:
        print(json.dumps([summary(x) for x in letters]))
        return 0
    if not letters:
        print("no dead letters")
    for x in letters:
        print(f"{x.ref}  {x.event_id}  {x.attr('type')}  HTTP {x.attr('knativeerrorcode')}  {x.reason()[:150]}")
    return 0


def cmd_show(info: RunInfo, catalog: Catalog, args: argparse.Namespace) -> int:
    letter = find(read_dead_letters(info, dead_letter_topics(catalog)), args.ref)
    attrs = letter.event.get_attributes() if letter.event else {}
    data = letter.event.get_data() if letter.event else letter.raw
    if isinstance(data, bytes):
        try:
            data = json.loads(data)
        except ValueError:
            data = data.decode(errors="replace")
    if args.data_only:
        print(json.dumps(data, indent=2, default=str))
        return 0
    try:
        original = original_topic(catalog, letter)
    except ConfigError as exc:
        original = f"unknown ({exc})"
    out = {
        "ref": letter.ref,
        "original_topic": original,
        "attributes": {k: str(v) for k, v in attrs.items()},
        "error": letter.error_body(),
        "data": data,
    }
    print(json.dumps(out, indent=2, default=str))
    return 0


def cmd_replay(info: RunInfo, catalog: Catalog, args: argparse.Namespace) -> int:
    from kairos.bus.kafka import make_producer, send_records
    from kairos.dev.invoke import load_data

    letters = read_dead_letters(info, dead_letter_topics(catalog, args.function if args.all else None))
    if args.all:
        chosen = letters
    elif args.refs:
        chosen = [find(letters, ref) for ref in args.refs]
    else:
        raise ConfigError("name the dead letters to replay (see 'kairos dlq list') or give --all")
    data = load_data(args.data) if args.data else None
    plan = [(args.topic or original_topic(catalog, x), fixed_record(x, data), x) for x in chosen]
    for topic, _record, x in plan:
        print(f"{'would replay' if args.dry_run else 'replaying'} {x.ref} ({x.event_id}) -> {topic}")
    if args.dry_run or not plan:
        return 0
    producer = make_producer(info.kafka_bootstrap, client_id="kairos-dlq-replay")
    try:
        send_records(producer, [(topic, record) for topic, record, _x in plan])
    finally:
        producer.close(timeout=5)
    _remember(Path(info.state_dir), [x.ref for _t, _r, x in plan])
    print(f"replayed {len(plan)} dead letter(s)")
    return 0


def _remember(state_dir: Path, refs: list[str]) -> None:
    """Append replayed refs to a log in the state folder (an audit trail for the operator)."""
    with (state_dir / "dlq-replayed.log").open("a") as fh:
        for ref in refs:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {ref}\n")
