"""A position opened by hand at the venue is adopted (unmanaged), alerted and protected."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from kairos.catalog import load_catalog
from kairos.contracts.envelope import new_event
from kairos.contracts.ops import PingTick
from kairos.portfolio.adoption import VenuePosition, adopt_unexplained
from kairos.portfolio.config import PositionsConfig
from kairos.runtime import recorder

from tests.portfolio.pkit import ACCOUNT, PROTECTION, system, venue_algos


def _adopt(database_url: str, sim, config: PositionsConfig) -> int:
    """What the reconciler would do with the venue's positions (it holds the keys)."""
    seen = [VenuePosition(p["symbol"], Decimal(str(p["contracts"])) * (1 if p["side"] == "long" else -1),
                          Decimal(str(p["entryPrice"]))) for p in sim.ccxt().fetch_positions()]
    cause = new_event(PingTick(job="reconcile"), source="/tests/reconciler", partition_key="reconciler")
    catalog = load_catalog()
    with psycopg.connect(database_url) as conn, conn.transaction():
        out = adopt_unexplained(conn, ACCOUNT, "binanceusdm", seen, cause, config, "/kairos/reconciler",
                                datetime.now(UTC))
        topics = {t: topic.name for topic in catalog.topics for t in topic.types}
        recorder.append_outbox(conn, "reconciler", [(topics[e.meta.type], e) for e in out])
    return len(out)


def test_hand_opened_position_is_adopted_alerted_and_protected(database_url, kafka_bootstrap, sim):
    import json

    with system(database_url, kafka_bootstrap, sim) as s:
        sim.ccxt().create_order("BTC/USDT:USDT", "market", "buy", 0.01)  # by hand, not through Kairos
        config = PositionsConfig.from_env({"KAIROS_POSITIONS_PROTECTION": json.dumps(PROTECTION)})
        assert _adopt(database_url, sim, config) == 3  # opened event, alert, sync
        s.pump()
        pos = s.positions()
        assert len(pos) == 1 and pos[0]["managed"] is False and Decimal(pos[0]["quantity"]) == Decimal("0.01")
        alerts = [a for a in s.outbox("kairos.ops.alert") if a["code"] == "POSITION_ADOPTED"]
        assert len(alerts) == 1 and alerts[0]["details"]["position_id"] == pos[0]["position_id"]
        opened = s.outbox("kairos.event.position_opened")
        assert len(opened) == 1 and opened[0]["managed"] is False
        assert len(s.orders("TP", active=True)) == 1 and len(s.orders("SL", active=True)) == 1
        assert len(venue_algos(sim)) == 2
        assert _adopt(database_url, sim, config) == 0  # the next reconciliation finds it explained
