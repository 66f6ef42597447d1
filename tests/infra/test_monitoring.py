"""The metrics stack (k8s/platform/monitoring), checked offline: Prometheus' configuration
scrapes what the manifests deploy, every alert rule and dashboard query is valid PromQL
naming only metrics that exist (in the code, or Kafka exporter's and Prometheus' own), and
every metric the code defines is on the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kairos.deploy.manifests_knative import DeploySettings
from kairos_testkit.infra_files import APP, PLATFORM, load_yaml_docs, render_kustomization
from kairos_testkit.paths import REPO

promql = pytest.importorskip("promql_parser")

MONITORING = PLATFORM / "monitoring"
#: Metrics that come from outside the code: Prometheus' target health and Strimzi's Kafka exporter.
EXTERNAL = {"up", "kafka_consumergroup_lag", "kafka_topic_partition_current_offset"}
_DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram)\(\s*\"([a-z_:][a-z0-9_:]*)\"", re.S)


def defined_metrics() -> dict[str, str]:
    """Every metric family the code defines (prometheus_client), name -> kind."""
    found: dict[str, str] = {}
    for path in (REPO / "shared" / "kairos").rglob("*.py"):
        for kind, name in _DEFINITION.findall(path.read_text()):
            found[name] = kind
    return found


def exposed_names(metrics: dict[str, str]) -> set[str]:
    """The series names Prometheus sees for those families."""
    names = set()
    for name, kind in metrics.items():
        if kind == "Histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        elif kind == "Counter":
            names.add(name if name.endswith("_total") else f"{name}_total")
        else:
            names.add(name)
    return names


def selectors(expr: Any) -> set[str]:
    """Metric names of every vector/matrix selector in a parsed PromQL expression."""
    out: set[str] = set()
    name = type(expr).__name__
    if name == "VectorSelector":
        out.add(expr.name)
        return out
    if name == "MatrixSelector":
        return selectors(expr.vector_selector)
    for attr in ("expr", "lhs", "rhs", "param"):
        child = getattr(expr, attr, None)
        if child is not None and type(child).__module__.startswith("promql_parser"):
            out |= selectors(child)
    for arg in getattr(expr, "args", None) or []:
        out |= selectors(arg)
    return out


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((MONITORING / "kairos.rules.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads((MONITORING / "dashboards" / "kairos.json").read_text())


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def test_every_rule_and_panel_query_is_promql_over_existing_metrics() -> None:
    known = exposed_names(defined_metrics()) | EXTERNAL
    exprs = [r["expr"] for r in rules()] + dashboard_exprs()
    assert len(exprs) > 20
    for expr in exprs:
        names = selectors(promql.parse(expr))  # raises on invalid PromQL
        assert names, expr
        assert names <= known, f"{expr}: no such metric {names - known}"


def test_a_misspelt_metric_is_caught() -> None:
    known = exposed_names(defined_metrics()) | EXTERNAL
    assert not selectors(promql.parse("rate(kairos_order_totals[5m])")) <= known
    with pytest.raises(ValueError):
        promql.parse("sum(rate(kairos_orders_total[5m])")


def test_every_metric_the_code_defines_is_on_the_dashboard() -> None:
    shown = set().union(*(selectors(promql.parse(e)) for e in dashboard_exprs()))
    missing = [n for n in sorted(defined_metrics()) if not exposed_names({n: defined_metrics()[n]}) & shown]
    assert missing == [], "add a panel for these metrics to k8s/platform/monitoring/dashboards/kairos.json"


def test_the_slo_rules_exist_with_the_code_thresholds() -> None:
    from kairos.execution.clock import BLOCK_MS, WARN_MS
    from kairos.positions.slo import Thresholds

    by_name = {r["alert"]: r for r in rules()}
    t = Thresholds()
    assert by_name["KairosPositionUnprotected"]["expr"].endswith(f"> {t.unprotected_critical_s:g}")
    assert by_name["KairosProtectionDelaySLO"]["expr"].endswith(f"> {t.delay_target_s:g}")
    assert by_name["KairosPlacementSuccessSLO"]["expr"].endswith(f"< {t.success_target:g}")
    assert by_name["KairosPlacementSuccessCritical"]["expr"].endswith(f"< {t.success_critical:g}")
    assert by_name["KairosSyncCycleSlow"]["expr"].endswith(f"> {t.cycle_warning_s:g}")
    assert by_name["KairosClockDrift"]["expr"].endswith(f"> {float(WARN_MS) / 1000:g}")
    assert by_name["KairosClockDriftBlocking"]["expr"].endswith(f"> {float(BLOCK_MS) / 1000:g}")
    for rule in rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["action"], rule["alert"]


def test_dashboard_covers_the_operators_sections() -> None:
    dash = dashboard()
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    for section in ("Stages", "Lag", "Dead letters", "Orders", "Protection", "PnL"):
        assert any(section in r for r in rows), section
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    provisioning = next(d for d in load_yaml_docs(MONITORING / "grafana.yaml") if d["kind"] == "ConfigMap")
    (source,) = yaml.safe_load(provisioning["data"]["datasources.yaml"])["datasources"]
    for panel in dash["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]


def test_prometheus_scrapes_the_functions_and_the_kafka_exporter() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    functions = jobs["kairos-functions"]
    assert functions["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["kairos"]
    keep = {tuple(r["source_labels"]): r["regex"] for r in functions["relabel_configs"] if r.get("action") == "keep"}
    assert keep[("__meta_kubernetes_pod_label_serving_knative_dev_service",)] == ".+"
    assert keep[("__meta_kubernetes_pod_container_port_number",)] == str(DeploySettings().port)
    assert functions["metrics_path"] == "/metrics"
    exporter = {tuple(r["source_labels"]): r["regex"] for r in jobs["kafka-exporter"]["relabel_configs"]}
    kafka = next(d for d in load_yaml_docs(PLATFORM / "kafka" / "kafka.yaml") if d["kind"] == "Kafka")
    assert "kafkaExporter" in kafka["spec"]
    assert exporter[("__meta_kubernetes_pod_label_strimzi_io_name",)] == f"{kafka['metadata']['name']}-kafka-exporter"
    # the rule file Prometheus loads is a key of the ConfigMap mounted at /etc/prometheus
    docs = render_kustomization(PLATFORM)
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "prometheus-config")
    assert [f"/etc/prometheus/{Path(k).name}" for k in cm["data"] if k.endswith(".rules.yml")] == config["rule_files"]
    dashboards = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "grafana-dashboards")
    assert json.loads(dashboards["data"]["kairos.json"])["uid"] == "kairos-overview"


def test_function_pods_let_prometheus_in_on_their_port() -> None:
    policies = {d["metadata"]["name"]: d for d in load_yaml_docs(APP / "network-policies.yaml")}
    rule = policies["metrics-scrape"]["spec"]["ingress"][0]
    assert rule["ports"] == [{"protocol": "TCP", "port": DeploySettings().port}]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
