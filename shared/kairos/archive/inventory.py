"""What the archive holds (``kairos archive ls``) and whether it is intact (``verify``).

The manifest in Postgres is the archive's table of contents; S3 holds the bytes. ``ls``
reads the manifest only. ``verify`` reads every object the manifest names back from S3 and
checks it (present, checksum, event count, first and last event id), lists objects S3 has
that the manifest does not name, and names hours with no object inside a topic's archived
span (a gap: nothing was archived for that hour, which is normal for a quiet topic and a
finding for a busy one).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg

from kairos.archive.layout import read_lines
from kairos.archive.objectstore import ObjectStore
from kairos.errors import TransientError


@dataclass(frozen=True)
class ManifestRow:
    key: str
    topic: str
    dt: date
    hour: int
    count: int
    first_id: str
    last_id: str
    bytes: int
    sha256: str
    status: str


def manifest(conn: psycopg.Connection, topics: Sequence[str] = (), start: date | None = None,
             end: date | None = None, *, status: str | None = "complete") -> list[ManifestRow]:
    """Manifest rows in sealing order, filtered by topics and days (inclusive)."""
    rows = conn.execute(
        "SELECT object_key, topic, dt, hour, event_count, first_event_id, last_event_id, bytes, sha256, status"
        " FROM archive_objects"
        " WHERE (cardinality(%s::text[]) = 0 OR topic = ANY(%s::text[]))"
        "   AND (%s::date IS NULL OR dt >= %s::date) AND (%s::date IS NULL OR dt <= %s::date)"
        "   AND (%s::text IS NULL OR status = %s::text)"
        " ORDER BY id",
        (list(topics), list(topics), start, start, end, end, status, status),
    ).fetchall()
    return [ManifestRow(*r) for r in rows]


@dataclass
class DaySummary:
    topic: str
    dt: date
    objects: int = 0
    events: int = 0
    bytes: int = 0
    hours: set[int] = field(default_factory=set)
    gaps: list[int] = field(default_factory=list)


def _hour_of(row: ManifestRow) -> datetime:
    return datetime(row.dt.year, row.dt.month, row.dt.day, row.hour, tzinfo=UTC)


def summarize(rows: Sequence[ManifestRow]) -> list[DaySummary]:
    """Per topic and day: objects, events, bytes, hours covered, and missing hours between
    the topic's first and last archived hour."""
    days: dict[tuple[str, date], DaySummary] = {}
    span: dict[str, tuple[datetime, datetime]] = {}
    for row in rows:
        s = days.setdefault((row.topic, row.dt), DaySummary(row.topic, row.dt))
        s.objects += 1
        s.events += row.count
        s.bytes += row.bytes
        s.hours.add(row.hour)
        h = _hour_of(row)
        lo, hi = span.get(row.topic, (h, h))
        span[row.topic] = (min(lo, h), max(hi, h))
    for topic, (lo, hi) in span.items():
        h = lo
        while h <= hi:
            day = days.get((topic, h.date()))
            if day is None:
                day = days[(topic, h.date())] = DaySummary(topic, h.date())
            if h.hour not in day.hours:
                day.gaps.append(h.hour)
            h += timedelta(hours=1)
    return sorted(days.values(), key=lambda d: (d.topic, d.dt))


def staged_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Events per topic staged and not yet in a complete object."""
    return {t: int(n) for t, n in conn.execute("SELECT topic, count(*) FROM archive_staging GROUP BY topic")}


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | corrupt | unlisted | stuck | unreadable
    key: str
    detail: str


@dataclass
class VerifyReport:
    checked: int = 0
    events: int = 0
    problems: list[Problem] = field(default_factory=list)
    gaps: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: psycopg.Connection, store: ObjectStore, topics: Sequence[str] = (), start: date | None = None,
           end: date | None = None, *, stuck_after_s: float = 3600.0) -> VerifyReport:
    """Check every complete object in the filter against S3; see the module docstring."""
    report = VerifyReport()
    rows = manifest(conn, topics, start, end)
    for row in rows:
        report.checked += 1
        try:
            body = store.get(row.key)
        except TransientError as exc:
            report.problems.append(Problem("unreadable", row.key, str(exc)))
            continue
        if body is None:
            report.problems.append(
                Problem("missing", row.key, f"the manifest lists {row.count} events; S3 has no object"))
            continue
        digest = hashlib.sha256(body).hexdigest()
        if digest != row.sha256:
            report.problems.append(Problem("corrupt", row.key, f"sha256 {digest[:16]}… != manifest {row.sha256[:16]}…"))
            continue
        try:
            events = list(read_lines(body))
        except ValueError as exc:
            report.problems.append(Problem("corrupt", row.key, str(exc)))
            continue
        if len(events) != row.count or events[0].id != row.first_id or events[-1].id != row.last_id:
            report.problems.append(Problem(
                "corrupt", row.key,
                f"{len(events)} events {events[0].id}…{events[-1].id}; manifest says {row.count} {row.first_id}…"
                f"{row.last_id}"))  # fmt: skip
            continue
        report.events += len(events)
    listed = {r.key for r in manifest(conn, status=None)}
    prefixes = sorted({r.topic for r in rows} | set(topics))
    for topic in prefixes:
        try:
            for key, _size in store.list_keys(topic + "/"):
                if key not in listed and _in_days(key, start, end):
                    report.problems.append(
                        Problem("unlisted", key, "in S3 but in no manifest row (not part of the archive)"))
        except TransientError as exc:
            report.problems.append(Problem("unreadable", topic + "/", str(exc)))
    stuck = conn.execute(
        "SELECT object_key, extract(epoch FROM now() - sealed_at) FROM archive_objects"
        " WHERE status = 'pending' AND sealed_at < now() - make_interval(secs => %s)",
        (stuck_after_s,),
    ).fetchall()
    report.problems += [Problem("stuck", k, f"sealed {age / 60:.0f} min ago, not uploaded yet") for k, age in stuck]
    for day in summarize(rows):
        for h in day.gaps:
            report.gaps[day.topic].append(f"{day.dt.isoformat()} {h:02d}:00")
    return report


def _in_days(key: str, start: date | None, end: date | None) -> bool:
    for part in key.split("/"):
        if part.startswith("dt="):
            try:
                d = date.fromisoformat(part[3:])
            except ValueError:
                return True
            return (start is None or d >= start) and (end is None or d <= end)
    return True
