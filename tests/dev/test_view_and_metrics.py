"""The live view's arithmetic and rendering, on real Prometheus text and real snapshots."""

from __future__ import annotations

import io
import json
from pathlib import Path

from kairos.dev.observe import FunctionTracker, LogTail, parse_metrics, quantile, read_delivery_stats
from kairos.dev.view import PlainView, Snapshot, render_rich
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from rich.console import Console


def exposition(handled: int, seconds: list[float]) -> str:
    """Prometheus text as a function's /metrics would serve it."""
    registry = CollectorRegistry()
    events = Counter("kairos_events_total", "", ["function", "outcome"], registry=registry)
    hist = Histogram(
        "kairos_event_handling_seconds", "", ["function"], registry=registry, buckets=(0.005, 0.01, 0.05, 0.1)
    )
    events.labels("reactor", "handled").inc(handled)
    events.labels("reactor", "rejected").inc(2)
    events.labels("other", "handled").inc(1000)
    for s in seconds:
        hist.labels("reactor").observe(s)
    return generate_latest(registry).decode()


def test_metrics_of_one_function_are_read_and_others_ignored() -> None:
    m = parse_metrics(exposition(10, [0.004] * 10), "reactor")
    assert m.events == {"handled": 10.0, "rejected": 2.0}
    assert m.received == 12 and m.errors == 2
    assert m.buckets[-1] == (float("inf"), 10.0)


def test_quantiles_interpolate_inside_the_bucket_like_promql() -> None:
    buckets = [(0.005, 50.0), (0.01, 100.0), (float("inf"), 100.0)]
    assert quantile(buckets, 0.5) == 0.005
    assert abs((quantile(buckets, 0.99) or 0) - 0.0099) < 1e-9
    assert quantile([(0.1, 0.0), (float("inf"), 0.0)], 0.5) is None


def test_counters_stay_cumulative_when_the_function_restarts() -> None:
    tracker = FunctionTracker("reactor")
    tracker.update(parse_metrics(exposition(10, [0.004] * 10), "reactor"))
    tracker.update(parse_metrics(exposition(3, [0.04] * 3), "reactor"))  # restarted: counters began at 0
    view = tracker.view(ready=True, restarts=1)
    assert view.received == 12 + 5 and view.errors == 4 and view.restarts == 1


def test_recent_latency_comes_from_the_window_not_from_the_whole_run() -> None:
    tracker = FunctionTracker("reactor")
    tracker.update(parse_metrics(exposition(100, [0.004] * 100), "reactor"))
    tracker.update(parse_metrics(exposition(110, [0.004] * 100 + [0.08] * 10), "reactor"))
    view = tracker.view(ready=True, restarts=0)
    assert view.p50 is not None and view.p50 > 0.05


def test_delivery_stats_file_gives_lag_per_subscription(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    sub = {
        "name": "reactor--norm",
        "kind": "kafka",
        "delivered": 5,
        "lag": {"norm:0": 2, "norm:1": 1},
        "highwater": {"norm:0": 4, "norm:1": 3},
    }
    path.write_text(json.dumps({"written_at": 12.5, "deliveries": [sub]}))
    written, subs = read_delivery_stats(path)
    assert written == 12.5 and subs[0].lag == 3 and subs[0].partitions_seen == 2
    assert read_delivery_stats(tmp_path / "absent.json") == (0.0, [])


def test_log_tail_keeps_warnings_and_errors_but_not_kafka_client_noise(tmp_path: Path) -> None:
    log = tmp_path / "reactor.log"
    lines = [
        {"level": "info", "logger": "kairos", "msg": "function ready"},
        {"level": "warning", "logger": "kairos.runtime.function", "msg": "event refused", "reason": "bad amount"},
        {"level": "warning", "logger": "kafka.net.selector", "msg": "Task ran for 0.106s"},
    ]
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\nTraceback (most recent call last):\n")
    tail = LogTail()
    tail.poll({"reactor": log})
    tail.poll({"reactor": log})  # nothing new: nothing added twice
    assert [a.message for a in tail.alerts] == ["event refused: bad amount", "Traceback (most recent call last):"]


def test_views_render_a_snapshot_on_a_terminal_and_as_plain_lines() -> None:
    tracker = FunctionTracker("reactor")
    tracker.update(parse_metrics(exposition(10, [0.004] * 10), "reactor"))
    snap = Snapshot(3.0, "running", [tracker.view(True, 1)], [], [], 0, "")
    console = Console(file=io.StringIO(), width=160)
    console.print(render_rich(snap))
    screen = console.file.getvalue()  # type: ignore[attr-defined]
    assert "reactor" in screen and "restarts" in screen
    out = io.StringIO()
    PlainView(out).show(snap)
    assert "reactor[ready in=12 out=0 err=2" in out.getvalue() and "restarts=1" in out.getvalue()


def test_alert_events_on_the_alert_topic_reach_the_view(kafka_bootstrap: str) -> None:
    from kairos.bus.kafka import ensure_catalog_topics, make_producer, send_records
    from kairos.contracts.codec import to_kafka
    from kairos.contracts.envelope import new_event
    from kairos.contracts.ops import Alert as OpsAlert
    from kairos.dev.observe import AlertFeed
    from kairos_testkit.waiting import wait_until

    ensure_catalog_topics(kafka_bootstrap)
    alert = OpsAlert(
        severity="critical",
        code="clock_drift",
        message="venue clock 2.5 s ahead",
        component="clock-guard",
        action="check NTP",
    )
    event = new_event(alert, source="/kairos/clock-guard", partition_key="binance")
    producer = make_producer(kafka_bootstrap)
    send_records(producer, [("ops.alert", to_kafka(event))])
    producer.close()
    feed = AlertFeed(kafka_bootstrap, "tansu", ["ops.alert"])
    try:
        wait_until(lambda: len(feed.alerts) == 1, timeout=20, message="the alert in the feed")
    finally:
        feed.close()
    got = feed.alerts[0]
    assert got.source == "clock-guard" and got.level == "error"
    assert got.message == "[clock_drift] venue clock 2.5 s ahead → check NTP"
