"""``kairos dev`` (what ``make run`` calls): the whole system on one machine, Knative-style.

Start order: the processes that depend on nothing (fake solver bus, venue simulator)
while Postgres and Tansu boot; then topics and migrations; then every function and the
deliveries; once every function is ready, the sources, so that no event arrives before
someone can take it. Stop order on SIGINT/SIGTERM is the reverse, with a drain in the
middle: sources stop, deliveries run until every subscription's lag and the outbox
backlog are zero (Tansu keeps topics in memory only, so whatever is still on a topic at
stop is lost), then deliveries, functions, venue, broker and Postgres stop. A second
signal skips the drain and reports what was left undelivered.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

from kairos.catalog import load_catalog
from kairos.dev import build
from kairos.dev.markets import subscribe_simulated_markets
from kairos.dev.monitor import Monitor
from kairos.dev.state import ProcessInfo, RunInfo, StateDir, default_state_dir, pid_alive, read_run_info
from kairos.dev.strategies import start_examples as start_example_strategies
from kairos.dev.supervisor import EventLog, ManagedProcess, stop_all
from kairos.dev.trading import dev_limits
from kairos.dev.view import NullView, PlainView, Snapshot
from kairos.errors import ConfigError
from kairos.runtime import logs

log = logging.getLogger(__name__)


CRASH_LOOP_RESTARTS = 2  # a function that died this often before ever being ready will not recover


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def readiness_reason(client: httpx.Client, proc: ManagedProcess) -> str:
    """What a function says about its readiness, for a start-up that takes too long."""
    if not proc.running():
        return f"not running (last exit code {proc.last_exit}); see {proc.log_path}"
    try:
        resp = client.get(f"{proc.url}{proc.ready_path}", timeout=1)
        return f"readiness {resp.status_code} {resp.text.strip()[:200]!r}; see {proc.log_path}"
    except httpx.HTTPError as exc:
        return f"no answer on {proc.url} ({type(exc).__name__}); see {proc.log_path}"


class Interrupted(Exception):
    """A stop was requested while the system was still starting."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None, help="state folder (default: .state at the repo root)")
    parser.add_argument("--only", action="append", default=[], metavar="FUNCTION", help="run these functions only")
    parser.add_argument("--reset", action="store_true", help="wipe the state folder (asks first) before starting")
    parser.add_argument("--yes", action="store_true", help="do not ask before --reset")
    parser.add_argument("--plain", action="store_true", help="one line per second even on a terminal")
    parser.add_argument("--no-sources", action="store_true", help="start no source (nothing flows in by itself)")
    parser.add_argument("--near-intents-url", help="real solver bus websocket URL (default: a local fake bus)")
    parser.add_argument("--rate", type=float, default=5.0, help="fake solver bus quotes per second")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fake bus and the venue simulator")
    parser.add_argument("--malformed-every", type=int, default=0, help="every Nth fake quote is invalid (dead letters)")
    parser.add_argument("--no-venue-sim", action="store_true", help="do not start the simulated Binance venue")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds the stop may spend draining")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds functions get to become ready")


class DevRunner:
    """One run of the local system, from start to a clean stop."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state = StateDir((args.state_dir or default_state_dir()).resolve())
        self.catalog = load_catalog()
        self.only = set(args.only)
        self.events = EventLog()
        self.procs: list[ManagedProcess] = []
        self.pg: Any = None
        self.broker: Any = None
        self.s3: Any = None
        self.signals = 0
        self.info = RunInfo(runner_pid=os.getpid(), phase="starting", state_dir=str(self.state.root))
        self.view: Any = PlainView(sys.stdout)
        self.monitor: Monitor | None = None
        self.drain_complete = False

    # --- signals ----------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signals += 1

    def _check_interrupt(self) -> None:
        if self.signals:
            raise Interrupted

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when a signal arrives."""
        deadline = time.monotonic() + seconds
        seen = self.signals
        while time.monotonic() < deadline and self.signals == seen:
            time.sleep(0.05)

    # --- bookkeeping ------------------------------------------------------------------

    def by_kind(self, *kinds: str) -> list[ManagedProcess]:
        return [p for p in self.procs if p.kind in kinds]

    def save(self) -> None:
        for p in self.procs:
            self.info.processes[p.name] = ProcessInfo(
                p.name, p.kind, p.pid, p.url, str(p.log_path), p.restarts, p.create_time
            )
        self.info.write(self.state.run_file)

    def _record_infra(self, name: str, kind: str, pid: int | None, url: str) -> None:
        create = psutil.Process(pid).create_time() if pid and psutil.pid_exists(pid) else None
        self.info.processes[name] = ProcessInfo(name, kind, pid, url, None, 0, create)

    def message(self, text: str) -> None:
        log.info(text)
        try:
            self.view.message(text)
        except OSError:  # the terminal is gone: keep stopping cleanly, the log has it
            self.view = NullView()

    def show(self, snap: Snapshot) -> None:
        try:
            self.view.show(snap)
        except OSError:
            self.view = NullView()

    # --- start ------------------------------------------------------------------------

    def refuse_if_running(self) -> None:
        """One runner per state folder; leftovers of a runner that died are cleaned up."""
        if not self.state.run_file.exists():
            return
        try:
            old = read_run_info(self.state)
        except ConfigError:
            return
        if old.phase != "stopped" and pid_alive(old.runner_pid):
            raise ConfigError(
                f"kairos dev already runs from {self.state.root} (pid {old.runner_pid}): stop it with Ctrl-C, "
                "or give another --state-dir"
            )
        for proc in old.processes.values():
            if proc.kind != "postgres" and pid_alive(proc.pid, proc.create_time):
                assert proc.pid is not None
                log.warning("stopping a leftover process of a previous run", extra={"child": proc.name})
                try:
                    psutil.Process(proc.pid).terminate()
                    psutil.Process(proc.pid).wait(5)
                except psutil.Error:
                    pass

    def start(self) -> None:
        started = psutil.Process().create_time()
        self.state.prepare()
        self.info.stats_file = str(self.state.stats_file)
        self.info.only = sorted(self.only)
        self.state.stats_file.unlink(missing_ok=True)
        self.save()
        bus_url = self.args.near_intents_url
        if not self.args.no_sources and not bus_url:
            bus, bus_url = build.fake_bus_process(self.state, self.args.rate, self.args.seed, self.args.malformed_every)
            self.procs.append(bus)
            bus.start()
        venue_env: dict[str, str] = {}
        if not self.args.no_venue_sim and build.venue_sim_available():
            venue, venue_env = build.venue_sim_process(self.state, self.args.seed)
            self.procs.append(venue)
            venue.start()
            self.info.venue = venue_env
        t_infra = time.monotonic()
        database_url, bootstrap = self._infra()
        log.info("infrastructure ready", extra={"seconds": round(time.monotonic() - t_infra, 2)})
        profile = os.environ.get("KAIROS_KAFKA_PROFILE", "tansu")
        self.info.database_url, self.info.kafka_bootstrap, self.info.kafka_profile = database_url, bootstrap, profile
        s3_env = self._object_storage()
        infra = build.Infra(database_url, bootstrap, profile, {**venue_env, **s3_env}, build.local_secrets(self.state))
        if venue_env:  # candles and prices of the simulator's symbols flow from the first minute
            subscribe_simulated_markets(database_url)
        if venue_env:
            build.register_dev_account(infra)
            # the example strategies run in SHADOW on the simulator's candles (KAIROS_DEV_STRATEGIES="" : none)
            examples = start_example_strategies(database_url, venue_env[build.VENUE_URL_ENV])
            if examples:
                self.message(f"kairos dev: strategies running in SHADOW (account dev-shadow): {', '.join(examples)}")
                limit_note = dev_limits(database_url, "dev-shadow")
                if limit_note:
                    self.message(limit_note)
        functions = build.function_processes(self.catalog, self.state, infra, self.only)
        missing = [n for n in build.missing_projects(self.catalog) if not self.only or n in self.only]
        if missing:
            self.message(
                f"kairos dev: the catalog declares {', '.join(missing)} but functions/<name>/function/func.py "
                "does not exist; not started (their subscriptions are not delivered)"
            )
        if not functions:
            raise ConfigError(f"--only {sorted(self.only)} names no function of the catalog")
        deliveries = build.delivery_process(self.state, infra, functions)
        for p in [*functions, deliveries]:
            self.procs.append(p)
            p.start()
        self.save()
        self.monitor = Monitor(self.state, self.procs, self.events, database_url, bootstrap, profile)
        t_functions = time.monotonic()
        self._wait_ready(functions)
        log.info("functions ready", extra={"seconds": round(time.monotonic() - t_functions, 2)})
        self.info.ready_seconds = round(time.time() - started, 2)
        if not self.args.no_sources:
            sources = build.source_processes(self.catalog, self.state, infra, bus_url)
            for p in sources:
                self.procs.append(p)
                p.start()
        self.message(
            f"kairos dev: {len(functions)} functions ready {self.info.ready_seconds:.1f}s after start; "
            f"Postgres {database_url}; Kafka {bootstrap}; state {self.state.root}; logs {self.state.logs}"
        )
        api = next((f for f in functions if f.name == "api" and f.url), None)
        if api is not None and api.url:
            self.message(build.dashboard_banner(api.url, database_url, self.state))
        # "running" only once start-up is over: the first admin's password hash (argon2) is a
        # long C call, and two signals that arrive during one are delivered to Python as one.
        self.info.phase = "running"
        self.save()

    def _infra(self) -> tuple[str, str]:
        """Postgres and broker: given by the environment, else embedded (booted in parallel)."""
        from kairos.bus.kafka import ensure_catalog_topics
        from kairos.localinfra.broker import start_embedded_broker
        from kairos.localinfra.postgres import start_embedded_postgres
        from kairos.runtime.db import migrate

        given_db = os.environ.get("DATABASE_URL")
        given_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        with ThreadPoolExecutor(max_workers=2) as pool:
            pg_f = None if given_db else pool.submit(start_embedded_postgres, self.state.postgres)
            br_f = None if given_kafka else pool.submit(start_embedded_broker, None, self.state.log("tansu"))
            if pg_f is not None:
                self.pg = pg_f.result()
            if br_f is not None:
                self.broker = br_f.result()
        database_url = given_db or self.pg.url
        bootstrap = given_kafka or self.broker.bootstrap
        if self.pg is not None:
            self._record_infra("postgres", "postgres", self.pg.pid, database_url)
        if self.broker is not None:
            self._record_infra("tansu", "broker", self.broker.process.pid, bootstrap)
        self._check_interrupt()
        t0 = time.monotonic()
        ensure_catalog_topics(bootstrap)
        migrate(database_url)
        log.info("topics and migrations done", extra={"seconds": round(time.monotonic() - t0, 2)})
        return database_url, bootstrap

    def _object_storage(self) -> dict[str, str]:
        """LocalStack S3 for the archive (unless ``AWS_ENDPOINT_URL`` is given), left to boot
        while the functions start: nothing uploads before archive-flush's first tick, which
        retries anyway. Without LocalStack the archive stays staged in Postgres."""
        if os.environ.get("AWS_ENDPOINT_URL"):
            return {}
        from kairos.localinfra.s3 import launch_localstack, localstack_python

        if localstack_python() is None:
            self.message("kairos dev: LocalStack is not installed (scripts/ensure-test-tools.sh localstack): "
                         "archived events stay staged in Postgres until an S3 endpoint is given")
            return {}
        # what flows shows up in `kairos archive ls` within two minutes, not when the hour ends
        # (an exported value wins over the catalog's env, as for every function setting)
        os.environ.setdefault("KAIROS_ARCHIVE_MAX_AGE_S", "60")
        self.s3 = launch_localstack(self.state.root / "localstack", log_file=self.state.log("localstack"))
        self._record_infra("localstack", "s3", self.s3.process.pid, self.s3.endpoint)
        self.info.s3 = self.s3.env()
        return dict(self.info.s3)

    def _wait_ready(self, functions: list[ManagedProcess]) -> None:
        deadline = time.monotonic() + self.args.ready_timeout
        next_report = time.monotonic() + 15
        with httpx.Client() as client:
            while True:
                self._check_interrupt()
                for p in self.procs:
                    p.check(time.monotonic(), self.events)
                waiting = [f for f in functions if not f.is_ready(client)]
                if not waiting:
                    return
                crashing = [f for f in waiting if f.restarts >= CRASH_LOOP_RESTARTS and not f.running()]
                if crashing:
                    f = crashing[0]
                    raise ConfigError(
                        f"{f.name} keeps exiting during start-up (code {f.last_exit}, {f.restarts} restarts); "
                        f"the end of {f.log_path}:\n{log_tail(f.log_path)}"
                    )
                if time.monotonic() > next_report:
                    next_report = time.monotonic() + 15
                    for f in waiting:
                        self.message(f"kairos dev: still waiting for {f.name}: {readiness_reason(client, f)}")
                if time.monotonic() > deadline:
                    names = ", ".join(f"{f.name} (log {f.log_path})" for f in waiting)
                    raise ConfigError(f"functions not ready after {self.args.ready_timeout:.0f}s: {names}")
                time.sleep(0.1)

    # --- run ----------------------------------------------------------------------------

    def tick(self, phase: str, note: str = "") -> Snapshot:
        assert self.monitor is not None
        changed = False
        for p in self.procs:
            before = p.restarts
            p.check(time.monotonic(), self.events)
            changed |= p.restarts != before
        if changed:
            self.save()
        snap = self.monitor.snapshot(phase, time.time() - self.info.started_at, note)
        self.show(snap)
        return snap

    def watch(self) -> None:
        while not self.signals:
            self.tick("running")
            self._sleep(1.0)

    # --- stop ---------------------------------------------------------------------------

    def drain(self) -> dict[str, int]:
        """Let deliveries finish; returns what is left (empty when fully drained)."""
        from kairos.dev.drain import Drain

        assert self.monitor is not None
        self.info.phase = "draining"
        self.save()
        self.message("kairos dev: stopping sources, then draining (Ctrl-C again to stop at once)")
        for source in reversed(self.by_kind("source")):  # the ingest before the bus it reads from
            stop_all([source], timeout=10)
        names = [p.name for p in self.by_kind("function")]
        drain = Drain(build.subscription_partitions(self.catalog, names), time.time(), self.args.drain_timeout)
        outbox_relay = next((p for p in self.by_kind("function") if p.name == "outbox-relay"), None)
        while True:
            snap = self.tick("draining", drain.note())
            if self.signals > 1:  # the first signal started this stop
                self.message("kairos dev: second interrupt, stopping at once")
                return drain.left(snap)
            if drain.done(snap, self.monitor.stats_written_at):
                self.drain_complete = True
                log.info("drained", extra={"seconds": round(time.time() - drain.started, 2)})
                return {}
            if drain.should_kick_relay(snap) and outbox_relay is not None and outbox_relay.url:
                drain.kick_relay(outbox_relay.url)
            if drain.timed_out():
                self.message(f"kairos dev: drain timed out after {self.args.drain_timeout:.0f}s")
                return drain.left(snap)
            self._sleep(0.25)

    def shutdown(self, *, drain: bool) -> None:
        if drain and self.monitor is not None:
            left = self.drain()
        else:
            left = self.monitor.left_now() if self.monitor is not None else {}
        self.info.phase = "stopping"
        self.save()
        quick = self.signals > 1
        for kind, grace in (("source", 10), ("delivery", 15), ("function", 15), ("venue", 10)):
            t0 = time.monotonic()
            killed = stop_all(self.by_kind(kind), timeout=3 if quick else grace)
            log.info("stopped", extra={"kind": kind, "seconds": round(time.monotonic() - t0, 2), "killed": killed})
        if self.monitor is not None:
            self.monitor.close()
        t0 = time.monotonic()
        if self.broker is not None:
            self.broker.stop()
        if self.pg is not None:
            self.pg.stop()
        if self.s3 is not None:
            self.s3.stop()
        log.info("stopped", extra={"kind": "broker and postgres", "seconds": round(time.monotonic() - t0, 2)})
        self.info.left_undelivered = left
        self.info.phase = "stopped"
        self.save()
        if left:
            what = ", ".join(f"{k}: {v}" for k, v in sorted(left.items()))
            self.message(
                f"kairos dev: stopped; left undelivered: {what}. Records still on topics are lost with the "
                "in-memory broker; unpublished outbox rows stay in Postgres and the outbox-relay sends them next run."
            )
        elif self.drain_complete:
            self.message("kairos dev: stopped cleanly; every subscription drained and the outbox is empty")
        else:
            self.message("kairos dev: stopped without a complete drain; the last snapshot showed nothing undelivered")


def confirm_reset(state: StateDir, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print(
            f"kairos dev: --reset would delete {state.root}; add --yes to confirm without a terminal", file=sys.stderr
        )
        return False
    answer = input(f"Delete {state.root} (Postgres data, logs)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    runner = DevRunner(args)
    runner.state.prepare()
    logs.configure(service="dev")
    _log_to_file(runner.state.log("dev"))
    try:  # before anything is written: run.json may belong to a running system
        runner.refuse_if_running()
    except ConfigError as exc:
        print(f"kairos dev: {exc}", file=sys.stderr)
        return 1
    if args.reset:
        if not confirm_reset(runner.state, args.yes):
            return 1
        runner.state.wipe()
        runner.state.prepare()
        _log_to_file(runner.state.log("dev"))
        print(f"kairos dev: wiped {runner.state.root}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went away
        signal.signal(sig, runner._on_signal)
    use_rich = sys.stdout.isatty() and not args.plain
    if use_rich:
        from kairos.dev.richview import RichView

        runner.view = RichView()
    try:
        runner.start()
        runner.watch()
        runner.shutdown(drain=True)
        return 0
    except Interrupted:
        runner.message("kairos dev: interrupted during start-up; stopping")
        runner.shutdown(drain=False)
        return 0
    except Exception as exc:
        log.exception("kairos dev failed")
        runner.message(f"kairos dev: {exc}")
        runner.shutdown(drain=False)
        return 1
    finally:
        runner.view.close()


def _log_to_file(path: Path) -> None:
    """The runner's JSON log goes to a file: stdout belongs to the view."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_kairos", False) and isinstance(handler, logging.StreamHandler):
            handler.setStream(path.open("a"))  # lives as long as the process
