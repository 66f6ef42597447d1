"""Candles from the simulator through ccxt into Postgres: they equal the venue's, are stored
once, corrected as revisions, bad data refused with a reason, outages and holes handled."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kairos.contracts.envelope import new_event
from kairos.contracts.market_data import RawBinanceUsdmKline
from kairos.errors import Rejected
from kairos.marketdata import ingest, store
from kairos.marketdata.timeframes import from_ms
from kairos_testkit.venue_sim import VenueSimHandle

from tests.marketdata.conftest import (
    START_MS,
    alerts,
    cron_tick,
    normalize,
    sim_closed,
    stored,
    subscribe,
)

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
MIN = 60_000


def as_values(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(r[0], *(Decimal(x) for x in r[1:6])) for r in rows]


def test_candles_of_several_symbols_and_timeframes_equal_the_simulators(db: str, sim: VenueSimHandle) -> None:
    since = from_ms(START_MS - 3 * 3_600_000)
    for symbol, tf in ((BTC, "1m"), (ETH, "5m"), (SOL, "1h"), (BTC, "15m")):
        subscribe(db, symbol, tf, since)
    sim.control.step(ticks=600)  # ten minutes of live ticks after three archived hours
    out = cron_tick(db, sim)
    assert not alerts(out)
    assert normalize(db, out)
    for symbol, native, tf in ((BTC, "BTCUSDT", "1m"), (ETH, "ETHUSDT", "5m"), (SOL, "SOLUSDT", "1h"),
                               (BTC, "BTCUSDT", "15m")):  # fmt: skip
        expected = sim_closed(sim, native, tf, START_MS - 3 * 3_600_000)
        assert expected and as_values(stored(db, symbol, tf)) == as_values(expected), tf
    # the next minute brings exactly the candles that closed since
    sim.control.step(ticks=120)
    normalize(db, cron_tick(db, sim))
    assert as_values(stored(db, BTC, "1m")) == as_values(sim_closed(sim, "BTCUSDT", "1m", START_MS - 3 * 3_600_000))


def test_a_redelivered_or_replayed_kline_stores_nothing_twice(db: str, sim: VenueSimHandle) -> None:
    subscribe(db, BTC, "1m", from_ms(START_MS - 10 * MIN))
    out = cron_tick(db, sim)
    first = normalize(db, out)
    assert len(first) == 10
    assert normalize(db, out) == []  # the same raw events again
    again = cron_tick(db, sim)  # the cron asking again: same content, same ids
    assert {e.meta.id for e in again} <= {e.meta.id for e in out}
    assert normalize(db, again) == []
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*), max(revision) FROM candles").fetchone() == (10, 1)


def test_a_corrected_candle_becomes_a_revision_never_an_overwrite(db: str, sim: VenueSimHandle) -> None:
    subscribe(db, BTC, "1m", from_ms(START_MS - 10 * MIN))
    normalize(db, cron_tick(db, sim))
    last = START_MS - MIN
    sim.control.fix_kline("BTCUSDT", last, {"open": "60000", "high": "60100", "low": "59900", "close": "60050",
                                            "volume": "7"})  # fmt: skip
    emitted = normalize(db, cron_tick(db, sim))
    assert [(e.data.revision, e.data.close) for e in emitted] == [(2, Decimal("60050"))]
    with psycopg.connect(db) as conn:
        revs = conn.execute(
            "SELECT revision, close FROM candles WHERE open_time = %s ORDER BY revision", (from_ms(last),)
        ).fetchall()
    assert len(revs) == 2 and revs[1] == (2, Decimal("60050")) and revs[0][1] != Decimal("60050")


GOOD = [START_MS - 5 * MIN, "100.0", "110.0", "90.0", "105.0", "3.5", START_MS - 4 * MIN - 1, "367.5", 12]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({2: "80.0"}, "high 80.0 is below low 90.0"),
        ({1: "120.0"}, "outside [low"),
        ({4: "85.0"}, "outside [low"),
        ({0: START_MS - 5 * MIN + 1, 6: START_MS - 4 * MIN}, "not aligned to 1m"),
        ({0: START_MS, 6: START_MS + MIN - 1}, "not closed yet"),
        ({5: "-1"}, "negative volume"),
        ({6: START_MS - 3 * MIN}, "not the end of the bucket"),
        ({1: 100.0}, "must be a decimal string"),
        ({3: "0"}, "prices must be > 0"),
    ],
)
def test_bad_data_is_refused_with_its_reason_and_does_not_poison_the_series(
    db: str, change: dict[int, Any], reason: str
) -> None:
    bad = list(GOOD)
    for i, v in change.items():
        bad[i] = v

    def event(kline: list[Any]) -> Any:
        from datetime import UTC, datetime

        raw = RawBinanceUsdmKline(symbol="BTCUSDT", interval="1m", kline=kline, venue_time=START_MS,
                                  fetched_at=datetime.now(UTC))  # fmt: skip
        return new_event(raw, source="/test", partition_key="k")

    with psycopg.connect(db) as conn:
        with pytest.raises(Rejected, match=re.escape(reason)):
            ingest.store_kline(conn, event(bad), "/test")
        conn.rollback()
        assert [e.data.revision for e in ingest.store_kline(conn, event(GOOD), "/test")] == [1]
        conn.commit()
        assert conn.execute("SELECT count(*) FROM candles").fetchone() == (1,)


@pytest.mark.slow
def test_a_venue_outage_of_minutes_ends_with_no_gap(db: str, sim: VenueSimHandle) -> None:
    subscribe(db, BTC, "1m", from_ms(START_MS - 5 * MIN))
    normalize(db, cron_tick(db, sim))
    sim.control.set_faults([], maintenance=True)
    for _ in range(3):  # three minutes of ticks while the venue is down
        sim.control.step(ticks=60)
        out = cron_tick(db, sim, KAIROS_MARKET_VENUE_TIMEOUT_MS="500")
        assert [a.code for a in alerts(out)] == ["MARKET_DATA_UNAVAILABLE"]
        assert not [e for e in out if e.meta.type != "kairos.ops.alert"]
    sim.control.clear_faults()
    sim.control.step(ticks=60)
    normalize(db, cron_tick(db, sim))
    got = stored(db, BTC, "1m")
    assert [r[0] for r in got] == list(range(START_MS - 5 * MIN, START_MS + 4 * MIN, MIN))
    assert as_values(got) == as_values(sim_closed(sim, "BTCUSDT", "1m", START_MS - 5 * MIN))


def test_rate_limits_and_server_errors_are_retried_with_backoff(db: str, sim: VenueSimHandle) -> None:
    subscribe(db, ETH, "1m", from_ms(START_MS - 5 * MIN))
    sim.control.set_faults([
        {"kind": "rate_limit", "endpoint": "GET /fapi/v1/klines", "count": 1, "retry_after_s": 1},
        {"kind": "http_error", "endpoint": "GET /fapi/v1/premiumIndex", "count": 1, "status": 502},
    ])  # fmt: skip
    out = cron_tick(db, sim)
    assert not alerts(out) and len(normalize(db, out)) == 5
    statuses = [r["status"] for r in sim.control.audit() if r["path"] in ("/fapi/v1/klines", "/fapi/v1/premiumIndex")]
    assert 429 in statuses and 502 in statuses


def test_a_hole_the_venue_cannot_fill_is_alerted_once_and_listed(db: str, sim: VenueSimHandle) -> None:
    subscribe(db, BTC, "1m", from_ms(START_MS - 10 * MIN))
    normalize(db, cron_tick(db, sim))
    sim.control.kline_hole("BTCUSDT", START_MS + MIN, START_MS + 3 * MIN)
    sim.control.step(ticks=300)
    out = cron_tick(db, sim)
    assert [a.code for a in alerts(out)] == ["CANDLES_MISSING_AT_VENUE"]
    assert alerts(out)[0].details["start"] == from_ms(START_MS + MIN).isoformat()
    normalize(db, out)
    sim.control.step(ticks=60)
    out2 = cron_tick(db, sim)
    assert alerts(out2) == []  # reported once, not every minute
    normalize(db, out2)
    with psycopg.connect(db) as conn:
        gaps = store.gaps(conn, "binanceusdm", BTC, "1m", from_ms(START_MS - 10 * MIN))
    assert [(g.start, g.end, g.venue_missing) for g in gaps] == [
        (from_ms(START_MS + MIN), from_ms(START_MS + 3 * MIN), True)
    ]
    assert timedelta(minutes=2) == gaps[0].end - gaps[0].start


def test_the_cron_creates_next_months_partition_ahead(db: str, sim: VenueSimHandle) -> None:
    subscribe(db, BTC, "1m", from_ms(START_MS - 2 * MIN))
    cron_tick(db, sim)
    with psycopg.connect(db) as conn:
        names = {r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'candles_y%'")}
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    nxt = (now.replace(day=1) + timedelta(days=32)).replace(day=1)
    assert {f"candles_y{now.year:04d}m{now.month:02d}", f"candles_y{nxt.year:04d}m{nxt.month:02d}"} <= names
