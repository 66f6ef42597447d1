"""slo-monitor (alerts) and position-scheduler (one command per open position and slot,
unprotected first)."""

from __future__ import annotations

import json
from datetime import datetime

import psycopg
from kairos_testkit.protection_system import system


def test_unprotected_beyond_30_s_is_a_critical_alert_once(database_url, kafka_bootstrap, sim):
    # The alert reaches people through alert-relay (tests/alerting), like every ops.alert.
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump(hold=frozenset({("position-sync", "cmd.sync_position")}))  # position-sync never runs
        with psycopg.connect(database_url) as conn:
            conn.execute("UPDATE positions SET unprotected_since = now() - interval '40 seconds'")
        s.tick("slo-monitor")
        alerts = [a for a in s.outbox("kairos.ops.alert") if a.get("code") == "POSITION_UNPROTECTED"]
        assert len(alerts) == 1 and alerts[0]["severity"] == "critical"
        s.tick("position-scheduler")  # the emergency is scheduled first; position-sync protects it
        scheduled = [c for c in s.outbox("kairos.cmd.sync_position") if c["cause"] == "schedule"]
        assert [c["priority"] for c in scheduled] == [0]
        s.pump()
        assert s.positions()[0]["unprotected_since"] is None
        s.tick("slo-monitor")
        assert len([a for a in s.outbox("kairos.ops.alert") if a.get("code") == "POSITION_UNPROTECTED"]) == 1


def test_scheduler_emits_one_sync_per_open_position_and_slot(database_url, kafka_bootstrap, sim):
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump()
        s.tick("position-scheduler")
        s.tick("position-scheduler")  # the same minute again (or a second replica)
        syncs = [c for c in s.outbox("kairos.cmd.sync_position") if c["cause"] == "schedule"]
        assert len({c["command_id"] for c in syncs}) in (1, 2)  # two ticks may straddle a minute boundary
        assert all(c["due_at"] and c["slot"] for c in syncs)
        # Each command is held back in the outbox until its own due_at (spread over the minute).
        with psycopg.connect(database_url) as conn:
            rows = [(json.loads(bytes(v)), nb) for v, nb in conn.execute(
                "SELECT value, not_before FROM outbox WHERE event_type = 'kairos.cmd.sync_position'")]
        scheduled = [(c, nb) for c, nb in rows if c["cause"] == "schedule"]
        assert scheduled and all(nb == datetime.fromisoformat(c["due_at"]) for c, nb in scheduled)
        handled = s.pump()
        assert handled >= 1
        assert len(s.orders(active=True)) == 2  # a scheduled sync of a protected position sends nothing


def test_a_new_position_whose_protection_stalled_is_synced_again_once_unprotected_10_s(
        database_url, kafka_bootstrap, sim):
    """The TP's order event (which releases the SL step) is lost. Without waiting for the next
    scheduler minute, the emergency check the fill's fold held back for 11 s syncs the position
    again, and it gets its SL; nothing is sent twice."""
    with system(database_url, kafka_bootstrap, sim) as s:
        s.enter("0.010")
        s.pump(hold=frozenset({("position-sync", "exec.order_event")}))
        assert [o["state"] for o in s.orders("TP")] == ["OPEN"] and s.orders("SL") == []
        checks = [c for c in s.outbox("kairos.cmd.sync_position") if c["priority"] == 0]
        assert len(checks) == 1 and checks[0]["cause"] == "fill"
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT extract(epoch FROM not_before - created_at) FROM outbox WHERE event_id = %s",
                               (checks[0]["command_id"],)).fetchone()
        assert row is not None and 10 < float(row[0]) < 12  # held back by the publisher and the relay
        s.pump()
        assert s.orders("SL") == []  # not due yet
        s.pump(release=True)  # 11 s later
        assert [o["state"] for o in s.orders("SL")] == ["OPEN"]
        assert s.positions()[0]["unprotected_since"] is None
        assert len(s.orders("TP")) == 1 and len(s.orders("SL")) == 1
        s.pump(release=True)
        assert len(s.outbox("kairos.cmd.execute_trade")) == 2  # TP and SL: nothing asked for twice
