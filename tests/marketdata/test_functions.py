"""The catalog's candle functions in process, over the real broker: cron -> raw topic ->
normalize-candles -> table and norm.candle; duplicates acknowledged, bad klines refused 422."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.envelope import new_event
from kairos.contracts.market_data import RawBinanceUsdmKline
from kairos_testkit.events import ping_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes
from kairos_testkit.venue_sim import VenueSimHandle

from tests.marketdata.conftest import START_MS, subscribe

MIN = 60_000


def test_cron_and_normalize_functions_carry_candles_end_to_end(
    db: str, sim: VenueSimHandle, kafka_bootstrap: str
) -> None:
    create_topics(kafka_bootstrap)
    subscribe(db, "BTC/USDT:USDT", "1m", datetime.fromtimestamp((START_MS - 4 * MIN) / 1000, UTC))
    env = runtime_env(db, kafka_bootstrap, KAIROS_VENUE_BASE_URL=sim.base_url)
    with in_process("candles-cron", env) as cron:
        outcome = cron.process(ping_event("/test/ping", datetime.now(UTC), {"job": "candles"}))
        assert outcome.status == 204 and len(outcome.emitted) == 4
    raws = record_envelopes(read_topic(kafka_bootstrap, "raw.binance_usdm.ohlcv", expect=4))
    assert len(raws) == 4 and all(e.meta.partition_key == "binanceusdm|BTC/USDT:USDT|1m" for e in raws)
    with in_process("normalize-candles", env) as norm:
        for e in raws:
            assert norm.process(to_cloudevent(e)).status == 204
        again = norm.process(to_cloudevent(raws[0]))
        assert again.status == 204 and again.duplicate
        bad = RawBinanceUsdmKline(symbol="BTCUSDT", interval="1m", venue_time=START_MS, fetched_at=datetime.now(UTC),
                                  kline=[START_MS - MIN, "10", "9", "11", "10", "1", START_MS - 1])  # fmt: skip
        refused = norm.process(to_cloudevent(new_event(bad, source="/test", partition_key="k")))
        assert refused.status == 422 and "below low" in refused.reason
    candles = record_envelopes(read_topic(kafka_bootstrap, "norm.candle", expect=4))
    assert sorted(c.data.open_time for c in candles) == [
        datetime.fromtimestamp((START_MS - i * MIN) / 1000, UTC) for i in (4, 3, 2, 1)
    ]
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM candles").fetchone() == (4,)
