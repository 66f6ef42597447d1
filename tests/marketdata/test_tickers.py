"""The ticker source over ccxt and the broker; normalize-tickers keeps mark_prices fresh and
never moves a mark back in time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from kairos.bus.sinks import KafkaSink
from kairos.contracts.codec import to_cloudevent
from kairos.marketdata import ingest
from kairos.marketdata.tickers import TOPIC, TickerSource, raw_ticker_event
from kairos.venues.binance_usdm.client import make_client
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes
from kairos_testkit.venue_sim import VenueSimHandle

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class ListSink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, env: Any) -> None:
        self.events.append(env)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


def marks(db: str) -> dict[str, tuple[Decimal, datetime]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT symbol, price, observed_at FROM mark_prices").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_tickers_flow_from_the_venue_to_mark_prices_through_the_broker(
    db: str, sim: VenueSimHandle, kafka_bootstrap: str
) -> None:
    create_topics(kafka_bootstrap)
    sim.control.set_price("BTCUSDT", "61000", mark="61005")
    sink = KafkaSink(kafka_bootstrap, TOPIC, client_id="test-tickers")
    source = TickerSource(make_client(sim.base_url), sink, lambda: [BTC, ETH], interval_s=0.2)
    assert source.poll_once() == 2
    sink.close()
    raws = record_envelopes(read_topic(kafka_bootstrap, "raw.binance_usdm.ticker", expect=2))
    assert sorted(e.data.symbol for e in raws) == ["BTCUSDT", "ETHUSDT"]
    env = runtime_env(db, kafka_bootstrap)
    with in_process("normalize-tickers", env) as fn:
        for e in raws:
            assert fn.process(to_cloudevent(e)).status == 204
    tickers = record_envelopes(read_topic(kafka_bootstrap, "norm.ticker", expect=2))
    btc = next(t.data for t in tickers if t.data.symbol == BTC)
    assert (btc.price, btc.mark, btc.bid, btc.ask) == (Decimal("61000"), Decimal("61005"), Decimal("61000"),
                                                      Decimal("61000.1"))  # fmt: skip
    assert btc.exchange_time == datetime.fromtimestamp(sim.venue.now_ms / 1000, UTC)
    assert marks(db)[BTC][0] == Decimal("61005")


def test_a_mark_never_moves_back_in_time(db: str, sim: VenueSimHandle) -> None:
    sink = ListSink()
    source = TickerSource(make_client(sim.base_url), sink, lambda: [BTC], interval_s=1)
    sim.control.set_price("BTCUSDT", "60000")
    source.poll_once()
    sim.control.step(ticks=5)
    sim.control.set_price("BTCUSDT", "62000")
    source.poll_once()
    older, newer = sink.events
    with psycopg.connect(db) as conn:
        ingest.store_ticker(conn, newer, "/t")
        ingest.store_ticker(conn, older, "/t")  # late delivery of the older poll
        conn.commit()
    price, observed = marks(db)[BTC]
    assert price == Decimal("62000")
    assert observed == datetime.fromtimestamp(sim.venue.now_ms / 1000, UTC)


def test_the_source_polls_at_its_interval_and_survives_a_venue_outage(sim: VenueSimHandle) -> None:
    sink = ListSink()
    source = TickerSource(make_client(sim.base_url, config={"timeout": 500}), sink, lambda: [BTC], interval_s=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(stop,))
    sim.control.set_faults([], maintenance=True)
    thread.start()
    stop.wait(1.0)
    assert source.failures >= 1 and not sink.events
    sim.control.clear_faults()
    stop.wait(1.0)
    stop.set()
    thread.join(5)
    assert source.polls >= 3 and sink.events
    assert (
        raw_ticker_event("BTCUSDT", {"closeTime": 1}, None, None, datetime.now(UTC)).meta.id
        == raw_ticker_event("BTCUSDT", {"closeTime": 1}, None, None, datetime.now(UTC)).meta.id
    )
