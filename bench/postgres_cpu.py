"""CPU time of a benchmark's Postgres server (every process of it, Linux ``/proc``).

Work a change adds inside the database (a trigger, an index) shows neither in the client's CPU
time nor reliably in the wall clock of a shared machine, where it is hidden by the load; the
server's own CPU seconds per operation are what such a change costs.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    # the fields after "(comm)": state, ppid, ... utime is the 12th, stime, cutime, cstime follow
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_pid(conn: psycopg.Connection) -> int:
    """The postmaster: the parent of this connection's backend."""
    return int(_stat(conn.info.backend_pid)[1])


def server_cpu_s(postmaster: int) -> float:
    """User + system seconds of the postmaster, its live children and the children it reaped."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except OSError:  # exited while we looked: its time is in the postmaster's reaped children
            continue
        if int(entry.name) == postmaster or int(fields[1]) == postmaster:
            total += sum(int(f) for f in fields[11:15])
    return total / TICK
