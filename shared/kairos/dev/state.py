"""The project-local state folder and ``run.json``, the description of a running system.

Everything ``kairos dev`` keeps lives under one folder (``.state/`` at the repository
root unless ``--state-dir`` or ``KAIROS_STATE_DIR`` says otherwise): Postgres data, logs,
the delivery counters and ``run.json``. The operator commands read ``run.json`` instead
of taking a dozen addresses on the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kairos.errors import ConfigError
from kairos.runtime.loader import REPO_ROOT

DEFAULT_STATE_DIR = REPO_ROOT / ".state"


def default_state_dir() -> Path:
    return Path(os.environ.get("KAIROS_STATE_DIR") or DEFAULT_STATE_DIR)


@dataclass(frozen=True)
class StateDir:
    """Paths inside the state folder."""

    root: Path

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def stats_file(self) -> Path:
        return self.root / "delivery-stats.json"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def prepare(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)

    def wipe(self) -> None:
        """Delete the folder (Postgres data, logs, counters)."""
        if self.root.exists():
            shutil.rmtree(self.root)


@dataclass
class ProcessInfo:
    """One supervised process as ``run.json`` records it."""

    name: str
    kind: str  # function | source | delivery | venue | broker | postgres
    pid: int | None
    url: str | None = None
    log: str | None = None
    restarts: int = 0
    create_time: float | None = None


@dataclass
class RunInfo:
    """What ``kairos dev`` is running, written to ``run.json`` on every change."""

    runner_pid: int
    phase: str  # starting | running | draining | stopping | stopped
    state_dir: str
    database_url: str = ""
    kafka_bootstrap: str = ""
    kafka_profile: str = "tansu"
    started_at: float = field(default_factory=time.time)
    ready_seconds: float | None = None
    stats_file: str = ""
    processes: dict[str, ProcessInfo] = field(default_factory=dict)
    venue: dict[str, str] = field(default_factory=dict)
    s3: dict[str, str] = field(default_factory=dict)  # the archive's endpoint (LocalStack), if any
    only: list[str] = field(default_factory=list)
    left_undelivered: dict[str, int] = field(default_factory=dict)

    def functions(self) -> dict[str, ProcessInfo]:
        return {n: p for n, p in self.processes.items() if p.kind == "function"}

    def function_url(self, name: str) -> str:
        proc = self.processes.get(name)
        if proc is None or proc.kind != "function" or not proc.url:
            running = ", ".join(sorted(self.functions())) or "none"
            raise ConfigError(f"function {name!r} is not running under kairos dev (running: {running})")
        return proc.url

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        tmp.replace(path)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunInfo:
        procs = {n: ProcessInfo(**p) for n, p in data.pop("processes", {}).items()}
        return cls(processes=procs, **data)


def read_run_info(state: StateDir) -> RunInfo:
    """The running system's description.

    Raises ConfigError telling the operator to start ``make run`` when there is none.
    """
    try:
        data = json.loads(state.run_file.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no running system: {state.run_file} does not exist; start one with 'make run' "
            "(or pass --state-dir of the folder kairos dev was started with)"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {state.run_file}: {exc}") from exc
    info = RunInfo.from_json(data)
    return info


def read_live_run_info(state: StateDir) -> RunInfo:
    """Like :func:`read_run_info`, but refuses a ``run.json`` left by a stopped runner."""
    info = read_run_info(state)
    if info.phase == "stopped" or not pid_alive(info.runner_pid):
        raise ConfigError(
            f"the system described by {state.run_file} is not running (runner pid {info.runner_pid} "
            "has exited); start it with 'make run'"
        )
    return info


def pid_alive(pid: int | None, create_time: float | None = None) -> bool:
    """True when ``pid`` runs (and, if given, is the process started at ``create_time``)."""
    if not pid:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(proc.create_time() - create_time) < 1.0
    except psutil.NoSuchProcess:
        return False
