"""``kairos status``: is everything up, is anything stuck, is anything lost?

One screen an operator can read in five seconds: each function's liveness and readiness
(with the reason when not ready) and restarts; each topic's end offsets and each
subscription's committed offsets and lag (from the delivery process, since Tansu's own
end offsets cannot be trusted); dead letters per function; and the outbox backlog.
Exit code 0 when every function is ready and nothing is dead-lettered, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psycopg
from kafka.errors import KafkaError

from kairos.catalog import load_catalog
from kairos.dev.state import ProcessInfo, RunInfo, StateDir, default_state_dir, pid_alive, read_run_info
from kairos.dev.topics import read_topics
from kairos.errors import ConfigError
from kairos.localinfra.postgres import postmaster_pid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def probe(client: httpx.Client, url: str, path: str) -> tuple[bool, str]:
    try:
        resp = client.get(url + path, timeout=2)
    except httpx.HTTPError as exc:
        return False, f"unreachable: {type(exc).__name__}"
    return resp.status_code == 200, resp.text.strip()[:200] or str(resp.status_code)


def functions_health(info: RunInfo) -> dict[str, dict[str, Any]]:
    out = {}
    with httpx.Client() as client:
        for name, proc in sorted(info.functions().items()):
            assert proc.url is not None
            live, live_why = probe(client, proc.url, "/health/liveness")
            ready, ready_why = probe(client, proc.url, "/health/readiness")
            out[name] = {
                "url": proc.url,
                "pid": proc.pid,
                "restarts": proc.restarts,
                "alive": live,
                "ready": ready,
                "detail": ready_why if live else live_why,
            }
    return out


def subscriptions(info: RunInfo) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per subscription counters and lag, and per topic the end offset seen by deliveries."""
    try:
        data = json.loads(Path(info.stats_file).read_text())
    except (OSError, ValueError):
        return [], {}
    subs: list[dict[str, Any]] = []
    ends: defaultdict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for d in data.get("deliveries", []):
        highwater = d.get("highwater") or {}
        for tp, hw in highwater.items():
            if tp not in seen:
                seen.add(tp)
                ends[tp.rsplit(":", 1)[0]] += hw
        subs.append(
            {
                "name": d["name"],
                "kind": d["kind"],
                "delivered": d.get("delivered", 0),
                "retried": d.get("retried", 0),
                "dead_lettered": d.get("dead_lettered", 0),
                "committed": sum((d.get("committed") or {}).values()),
                "lag": sum((d.get("lag") or {}).values()),
                "restarts": d.get("restarts", 0),
                "last_error": d.get("last_error", ""),
            }
        )
    return subs, dict(ends)


def dead_letters(info: RunInfo) -> dict[str, int]:
    topics = [t.name for t in load_catalog().topics if t.dead_letter]
    counts = dict.fromkeys(topics, 0)
    for rec in read_topics(info.kafka_bootstrap, topics, profile=info.kafka_profile, idle=0.5):
        counts[rec.topic] += 1
    return counts


def outbox_backlog(info: RunInfo) -> int | None:
    from kairos.runtime.recorder import backlog

    try:
        with psycopg.connect(info.database_url, connect_timeout=3) as conn:
            return backlog(conn)
    except psycopg.Error:
        return None


def current_pid(proc: ProcessInfo, state: StateDir) -> int | None:
    """A process's pid now. Postgres may have been restarted since the runner recorded it
    (``pg_ctl restart``, a crash): its pid is read from the data folder's
    ``postmaster.pid``, or the recorded one would show a serving database as DOWN."""
    if proc.kind == "postgres":
        return postmaster_pid(state.postgres) or proc.pid
    return proc.pid


def collect(info: RunInfo, state: StateDir | None = None) -> dict[str, Any]:
    state = state or StateDir(Path(info.stats_file).parent)
    subs, ends = subscriptions(info)
    return {
        "phase": info.phase,
        "runner_pid": info.runner_pid,
        "ready_seconds": info.ready_seconds,
        "database_url": info.database_url,
        "kafka_bootstrap": info.kafka_bootstrap,
        "functions": functions_health(info),
        "subscriptions": subs,
        "topic_end_offsets": ends,
        "dead_letters": dead_letters(info),
        "outbox_backlog": outbox_backlog(info),
        "other_processes": {
            n: {"kind": p.kind, "pid": pid, "alive": pid_alive(pid), "url": p.url}
            for n, p in info.processes.items()
            if p.kind != "function"
            for pid in [current_pid(p, state)]
        },
    }


def run(args: argparse.Namespace) -> int:
    state = StateDir(args.state_dir or default_state_dir())
    try:
        info = read_run_info(state)
    except ConfigError as exc:
        print(f"kairos status: {exc}", file=sys.stderr)
        return 2
    if info.phase == "stopped" or not pid_alive(info.runner_pid):
        left = info.left_undelivered
        print(f"kairos dev is not running (last phase {info.phase}); left undelivered at its stop: {left or 'nothing'}")
        return 1
    try:
        report = collect(info, state)
    except KafkaError as exc:
        print(f"kairos status: the broker at {info.kafka_bootstrap} does not answer ({exc})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print_report(report)
    healthy = all(f["ready"] for f in report["functions"].values()) and not sum(report["dead_letters"].values())
    return 0 if healthy else 1


def print_report(r: dict[str, Any]) -> None:
    print(f"kairos dev {r['phase']} (pid {r['runner_pid']}, ready in {r['ready_seconds']}s)")
    print(f"  postgres {r['database_url']}   kafka {r['kafka_bootstrap']}")
    print("functions:")
    for name, f in r["functions"].items():
        state = "ready" if f["ready"] else ("alive, NOT READY" if f["alive"] else "DOWN")
        print(f"  {name:<26} {state:<16} restarts={f['restarts']:<3} {f['url']}  {f['detail'][:80]}")
    print("subscriptions (committed offsets / lag):")
    for s in r["subscriptions"]:
        print(
            f"  {s['name']:<50} {s['kind']:<5} delivered={s['delivered']:<7} committed={s['committed']:<7}"
            f" lag={s['lag']:<5} retried={s['retried']} dead-lettered={s['dead_lettered']}"
            + (f" RESTARTED {s['restarts']}x (last: {s['last_error'][:80]})" if s.get("restarts") else "")
        )
    print("topic end offsets (as the deliveries see them):")
    for topic, end in sorted(r["topic_end_offsets"].items()):
        print(f"  {topic:<40} {end}")
    print("dead letters:")
    for topic, n in r["dead_letters"].items():
        print(f"  {topic:<40} {n}")
    backlog = r["outbox_backlog"]
    print(f"outbox backlog: {backlog if backlog is not None else 'unknown (Postgres unreachable)'}")
    for name, p in r["other_processes"].items():
        print(f"  {p['kind']:<9} {name:<22} pid={p['pid']} {'up' if p['alive'] else 'DOWN'} {p['url'] or ''}")
