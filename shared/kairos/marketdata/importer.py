"""``kairos candles import FILE``: a user's own candles (CSV, or Parquet with pyarrow) into ``candles``.

The whole file is checked first, by the same rules as the venue's candles, and refused as
a whole when any row is wrong, with every problem named by its line (CSV: the file's line
number, the header being line 1; Parquet: the row number). A clean file is stored with
COPY in one transaction; open times already stored are left alone (import is idempotent).

Columns: ``open_time`` (ms since the epoch, or ISO 8601 with a zone), ``open``, ``high``,
``low``, ``close``, ``volume``; optional ``close_time`` (default: the end of the bucket),
``quote_volume``, ``trades``, and ``symbol`` / ``timeframe`` when the command line does not
give them.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import psycopg

from kairos.marketdata import store, timeframes
from kairos.marketdata.normalize import problem
from kairos.marketdata.timeframes import from_ms, to_ms

REQUIRED = ("open_time", "open", "high", "low", "close", "volume")
MAX_ERRORS = 50


class ImportRefused(Exception):
    """The file was not imported; ``errors`` names every bad line (up to MAX_ERRORS)."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.errors = errors
        more = "" if len(errors) < MAX_ERRORS else f" (first {MAX_ERRORS} shown)"
        super().__init__(f"{path}: {len(errors)} problem(s){more}, nothing imported:\n  " + "\n  ".join(errors))


@dataclass(frozen=True)
class ImportResult:
    rows: int
    stored: int


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) per data row; the header's problems raise ImportRefused."""
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq  # type: ignore[import-not-found]
        except ImportError:
            raise ImportRefused(
                path, ["reading Parquet needs pyarrow: pip install pyarrow (or convert to CSV)"]
            ) from None
        table = pq.read_table(path)
        missing = [c for c in REQUIRED if c not in table.column_names]
        if missing:
            raise ImportRefused(path, [f"missing column(s) {', '.join(missing)}"])
        for i, rec in enumerate(table.to_pylist(), start=1):
            yield f"row {i}", rec
        return
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportRefused(path, [f"line 1: missing column(s) {', '.join(missing)} in the header"])
        for rec in reader:
            yield f"line {reader.line_num}", rec


def _time_ms(value: Any) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"open_time {value!r} has no time zone")
        return to_ms(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone (add Z or +00:00)")
    return to_ms(when)


def _dec(rec: dict[str, Any], name: str) -> Decimal:
    raw = rec.get(name)
    if raw is None or str(raw).strip() == "":
        raise ValueError(f"{name} is empty")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{name} {raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {raw!r} is not finite")
    return value


def import_file(
    conn: psycopg.Connection, path: Path, venue: str, symbol: str | None = None, timeframe: str | None = None
) -> ImportResult:
    """Check every row, then store them all (one transaction) or raise ImportRefused."""
    now_ms = int(time.time() * 1000)
    errors: list[str] = []
    groups: dict[tuple[str, str], dict[int, tuple[str, store.Row]]] = {}
    count = 0
    for where, rec in _records(path):
        count += 1
        try:
            sym = (rec.get("symbol") or symbol or "").strip()
            tf = (rec.get("timeframe") or timeframe or "").strip()
            if not sym or not tf:
                raise ValueError("no symbol/timeframe: give --symbol/--timeframe or add the columns")
            timeframes.check(tf)
            open_ms = _time_ms(rec["open_time"])
            close_raw = rec.get("close_time")
            close_ms = _time_ms(close_raw) if close_raw not in (None, "") else timeframes.next_open(open_ms, tf) - 1
            o, h, lo, c, v = (_dec(rec, n) for n in ("open", "high", "low", "close", "volume"))
            why = problem(open_ms, close_ms, o, h, lo, c, v, tf, now_ms)
            if why is not None:
                raise ValueError(why)
            qv = _dec(rec, "quote_volume") if rec.get("quote_volume") not in (None, "") else None
            trades = int(str(rec["trades"])) if rec.get("trades") not in (None, "") else None
        except (ValueError, KeyError) as exc:
            errors.append(f"{where}: {exc}")
            if len(errors) >= MAX_ERRORS:
                break
            continue
        row: store.Row = (from_ms(open_ms), from_ms(close_ms), o, h, lo, c, v, qv, trades)
        seen = groups.setdefault((sym, tf), {})
        if open_ms in seen:
            first_where, first = seen[open_ms]
            if first[2:7] != row[2:7]:
                errors.append(
                    f"{where}: {sym} {tf} {from_ms(open_ms).isoformat()} repeats {first_where} with other values"
                )
            continue
        seen[open_ms] = (where, row)
    if errors:
        raise ImportRefused(path, errors)
    stored = 0
    with conn.transaction():
        for (sym, tf), rows in groups.items():
            ordered = [r for _, (_, r) in sorted(rows.items())]
            stored += store.copy_new_candles(conn, venue, sym, tf, ordered, "import")
    return ImportResult(count, stored)
