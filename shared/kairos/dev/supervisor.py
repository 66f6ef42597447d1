"""Child processes of ``kairos dev``: start, watch, restart with backoff, stop in order.

Each child runs in a session of its own, so the terminal's Ctrl-C reaches only the
runner: the runner, not the terminal, decides the order in which things stop (sources
before deliveries before functions). A child that exits on its own is restarted after a
backoff that doubles up to 30 s and resets once the child has stayed up for a minute,
the way a Kubernetes pod is restarted, and every restart is reported as an event.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kairos.runtime.serve import LISTEN_FD_ENV

log = logging.getLogger(__name__)

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
HEALTHY_RESET_AFTER = 60.0


@dataclass
class SupervisorEvent:
    """Something the operator should see in the view (a crash, a restart)."""

    at: float
    name: str
    message: str
    level: str = "warning"


@dataclass
class ManagedProcess:
    """One child: how to start it, where it logs, and how to tell it is ready."""

    name: str
    kind: str
    argv: Sequence[str]
    env: dict[str, str]
    log_path: Path
    url: str | None = None
    ready_path: str | None = None  # GET url + ready_path answers 200 when ready
    #: A listening socket the runner bound (port 0) and keeps: the child serves on it
    #: (inherited, ``KAIROS_LISTEN_FD``), so no other process can take the port between
    #: choosing it and binding it, and a restarted child gets the same port back.
    listen_socket: socket.socket | None = None
    restart: bool = True
    stopping: bool = False
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    _next_start: float | None = None
    _backoff: float = BACKOFF_START
    _create_time: float | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def create_time(self) -> float | None:
        if self._create_time is None and self.process is not None:
            import psutil

            try:
                self._create_time = psutil.Process(self.process.pid).create_time()
            except psutil.NoSuchProcess:
                return None
        return self._create_time

    def start(self) -> None:
        """Spawn the child (appending to its log file)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(self.env)
        fds: tuple[int, ...] = ()
        if self.listen_socket is not None:
            fds = (self.listen_socket.fileno(),)
            env[LISTEN_FD_ENV] = str(fds[0])
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                list(self.argv),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=fds,
            )
        self._create_time = None
        self.started_at = time.monotonic()
        self._next_start = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def is_ready(self, client: httpx.Client) -> bool:
        if not self.running():
            return False
        if not (self.url and self.ready_path):
            return True
        try:
            resp = client.get(self.url + self.ready_path, timeout=0.5)
        except httpx.HTTPError:
            return False
        return resp.status_code == 200 and (self.kind != "function" or answered_by(resp, self.name))

    def check(self, now: float, report: Callable[[SupervisorEvent], None]) -> None:
        """Restart the child when it died on its own and its backoff has elapsed."""
        if self.process is None:
            return
        code = self.process.poll()
        if code is None:
            if now - self.started_at > HEALTHY_RESET_AFTER:
                self._backoff = BACKOFF_START
            return
        if self._next_start is None:
            self.last_exit = code
            if self.stopping:
                self.process = None
                return
            if not self.restart:
                report(SupervisorEvent(time.time(), self.name, f"exited with code {code}; not restarted", "error"))
                self.process = None
                return
            self._next_start = now + self._backoff
            report(
                SupervisorEvent(
                    time.time(), self.name, f"exited with code {code}; restarting in {self._backoff:.0f}s", "error"
                )
            )
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        elif now >= self._next_start:
            self.restarts += 1
            self.start()
            report(SupervisorEvent(time.time(), self.name, f"restarted (restart #{self.restarts}, pid {self.pid})"))

    def signal(self, sig: int) -> None:
        if self.running():
            assert self.process is not None
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> bool:
        """True when the child has exited within ``timeout``."""
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=max(timeout, 0.0))
            return True
        except subprocess.TimeoutExpired:
            return False


def answered_by(resp: httpx.Response, name: str) -> bool:
    """True when a readiness answer names ``name``: whoever answers on a function's port
    must prove it is that function, not another one that got the same port."""
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("function") == name


def stop_all(procs: Sequence[ManagedProcess], timeout: float) -> list[str]:
    """SIGTERM every process at once, SIGKILL what is left after ``timeout``.

    Returns the names of the processes that had to be killed.
    """
    for proc in procs:
        proc.restart = False
        proc.stopping = True
        proc.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    killed: list[str] = []
    for proc in procs:
        if not proc.wait(deadline - time.monotonic()):
            log.warning("process did not stop in time; killing it", extra={"child": proc.name, "pid": proc.pid})
            proc.signal(signal.SIGKILL)
            proc.wait(5)
            killed.append(proc.name)
    return killed


class EventLog:
    """The last few supervisor events, newest last, for the view."""

    def __init__(self, size: int = 50) -> None:
        self.events: deque[SupervisorEvent] = deque(maxlen=size)

    def __call__(self, event: SupervisorEvent) -> None:
        self.events.append(event)
        level = logging.ERROR if event.level == "error" else logging.WARNING
        log.log(level, event.message, extra={"child": event.name})
