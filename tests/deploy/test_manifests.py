"""The generated Knative manifests: committed = generated, strictly valid, and saying what the catalog says."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kairos.catalog.model import load_catalog
from kairos.deploy.manifests import KNATIVE_DIR, drift, generate
from kairos.deploy.manifests_knative import CONTAINER, DeploySettings, kafka_sink_name, kafka_source_name
from kairos.deploy.manifests_render import render
from kairos.deploy.validate import validate_manifest
from kairos_testkit.manifests import base_docs, by_kind
from kairos_testkit.paths import REPO

CATALOG = load_catalog()


def test_committed_manifests_equal_what_make_manifests_generates() -> None:
    files = generate(CATALOG)
    problems = drift(REPO, files)
    details = []
    for rel, text in files.items():  # the first differing file, as a diff, says what changed
        path = REPO / rel
        if path.is_file() and path.read_text() != text:
            diff = difflib.unified_diff(
                path.read_text().splitlines(), text.splitlines(), str(rel), "generated", lineterm=""
            )
            details = list(diff)[:40]
            break
    message = "k8s/knative/ or a func.yaml is stale: run `make manifests`\n" + "\n".join(problems + details)
    assert problems == [], message


@pytest.mark.parametrize("variant", ["base", "single-node overlay"])
def test_every_manifest_validates_strictly_against_the_crds(shared_brief: Path, variant: str) -> None:
    docs = base_docs() if variant == "base" else render(REPO / KNATIVE_DIR)
    crds = shared_brief / "k8s-crds"
    errors = [e for doc in docs for e in validate_manifest(doc, crds, kubernetes_version="1.34")]
    assert errors == []
    assert len(docs) >= len(CATALOG.functions) + len(CATALOG.topics)


def test_strict_validation_rejects_a_misplaced_field(shared_brief: Path) -> None:
    """The validation would catch a typo: an unknown delivery field is an error."""
    source = by_kind(base_docs(), "KafkaSource")[0]
    source["spec"]["delivery"]["retries"] = 3
    errors = validate_manifest(source, shared_brief / "k8s-crds")
    assert any("retries" in e for e in errors)


def test_each_subscription_has_an_explicit_kafka_source_with_a_dead_letter_sink() -> None:
    docs = base_docs()
    sources = {d["metadata"]["name"]: d for d in by_kind(docs, "KafkaSource")}
    sinks = {d["metadata"]["name"]: d for d in by_kind(docs, "KafkaSink")}
    services = {d["metadata"]["name"] for d in by_kind(docs, "Service")}
    expected = {kafka_source_name(fn, sub): (fn, sub) for fn in CATALOG.functions for sub in fn.subscriptions}
    assert set(sources) == set(expected)
    for name, (fn, sub) in expected.items():
        spec = sources[name]["spec"]
        policy = CATALOG.delivery_for(sub)
        assert spec["topics"] == [sub.topic]
        assert spec["consumerGroup"] == sub.consumer_group
        assert spec["initialOffset"] == "earliest"
        assert spec["ordering"] == sub.ordering
        delivery = spec["delivery"]
        assert (delivery["retry"], delivery["backoffPolicy"]) == (policy.retry, policy.backoff_policy)
        assert (delivery["backoffDelay"], delivery["timeout"]) == (policy.backoff_delay, policy.timeout)
        dls = delivery["deadLetterSink"]["ref"]
        assert (dls["apiVersion"], dls["kind"]) == ("eventing.knative.dev/v1alpha1", "KafkaSink")
        assert dls["name"] in sinks, f"{name}: dead-letter sink {dls['name']} is not generated"
        topic = sinks[dls["name"]]["spec"]["topic"]
        assert topic == fn.dead_letter_topic and CATALOG.topic(topic).dead_letter
        assert spec["sink"]["ref"]["name"] == fn.name in services


def test_each_cron_entry_has_a_ping_source_posting_its_data_as_json() -> None:
    pings = {d["metadata"]["name"]: d["spec"] for d in by_kind(base_docs(), "PingSource")}
    expected = {cron.name: (fn, cron) for fn in CATALOG.functions for cron in fn.crons}
    assert set(pings) == set(expected)
    for name, (fn, cron) in expected.items():
        spec = pings[name]
        assert (spec["schedule"], spec["timezone"]) == (cron.schedule, cron.timezone)
        assert json.loads(spec["data"]) == cron.data
        assert spec["sink"]["ref"] == {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": fn.name}


def test_every_catalog_topic_has_a_kafka_topic_and_every_dead_letter_topic_a_sink() -> None:
    docs = base_docs()
    topics = {d["spec"]["topicName"]: d for d in by_kind(docs, "KafkaTopic")}
    assert set(topics) == {t.name for t in CATALOG.topics}
    for topic in CATALOG.topics:
        spec = topics[topic.name]["spec"]
        assert spec["partitions"] == topic.partitions
        assert spec["config"]["retention.ms"] == topic.retention_ms
        assert spec["replicas"] == DeploySettings().topic_replicas
    sink_topics = {d["spec"]["topic"] for d in by_kind(docs, "KafkaSink")}
    assert {t.name for t in CATALOG.topics if t.dead_letter} <= sink_topics
    assert {t for src in CATALOG.sources for t in src.publishes} <= sink_topics


def test_every_function_has_a_service_with_the_catalog_scale_resources_and_probes() -> None:
    services = {d["metadata"]["name"]: d for d in by_kind(base_docs(), "Service")}
    assert set(services) == {fn.name for fn in CATALOG.functions}
    for fn in CATALOG.functions:
        template = services[fn.name]["spec"]["template"]
        scale, resources = CATALOG.scale_for(fn), CATALOG.resources_for(fn)
        notes = template["metadata"]["annotations"]
        assert notes["autoscaling.knative.dev/min-scale"] == str(scale.min)
        assert notes["autoscaling.knative.dev/max-scale"] == str(scale.max)
        assert template["spec"]["containerConcurrency"] == scale.concurrency
        assert template["spec"]["enableServiceLinks"] is False
        (container,) = template["spec"]["containers"]
        assert container["name"] == CONTAINER and container["image"] == f"kairos-{fn.name}"
        assert container["resources"] == {"requests": resources.requests, "limits": resources.limits}
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveness"
        env = {e["name"]: e for e in container["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "kairos-pg-app", "key": "uri"}
        assert {k: env[k]["value"] for k in fn.env} == fn.env
        refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
        assert refs == ["kairos-runtime", *fn.secrets]


def test_the_websocket_ingest_runs_as_a_deployment_bound_to_its_topic_sink() -> None:
    docs = base_docs()
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    bindings = {d["metadata"]["name"]: d for d in by_kind(docs, "SinkBinding")}
    for src in CATALOG.sources:
        pod = deployments[src.name]["spec"]["template"]
        # k8s/app/network-policies.yaml selects source pods by this label.
        assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == src.name
        (container,) = pod["spec"]["containers"]
        assert container["command"] == src.command
        assert container["image"].removeprefix("kairos-") in {fn.name for fn in CATALOG.functions}
        assert {e["name"]: e["value"] for e in container["env"]} == src.env
        spec = bindings[src.name]["spec"]
        assert spec["subject"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": src.name}
        assert spec["sink"]["ref"]["name"] == kafka_sink_name(src.publishes[0])


def test_kafka_resources_point_at_the_platform_brokers_and_topics_at_the_topic_operator() -> None:
    runtime = yaml.safe_load((REPO / "k8s" / "app" / "runtime-config.yaml").read_text())
    bootstrap = runtime["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert runtime["metadata"]["name"] == DeploySettings().runtime_configmap
    docs = base_docs()
    for doc in by_kind(docs, "KafkaSource") + by_kind(docs, "KafkaSink"):
        assert doc["spec"]["bootstrapServers"] == [bootstrap], doc["metadata"]["name"]
    for doc in by_kind(docs, "KafkaTopic"):
        assert doc["metadata"]["namespace"] == "kafka"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "kairos"


def test_every_object_lives_in_the_catalog_namespace_except_topics() -> None:
    for doc in base_docs():
        expected = "kafka" if doc["kind"] == "KafkaTopic" else CATALOG.namespace
        assert doc["metadata"]["namespace"] == expected, f"{doc['kind']}/{doc['metadata']['name']}"
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kairos"


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_single_node_overlay_keeps_everything_and_shrinks_only_what_it_says() -> None:
    base, overlay = base_docs(), render(REPO / KNATIVE_DIR)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in overlay) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in base
    )
    for doc in by_kind(overlay, "KafkaTopic"):
        assert doc["spec"]["replicas"] == 1 and doc["spec"]["config"]["min.insync.replicas"] == 1
    for doc in by_kind(overlay, "KafkaSink"):
        assert doc["spec"]["replicationFactor"] == 1
    for doc in by_kind(overlay, "Service"):
        template = doc["spec"]["template"]
        assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
        assert template["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "25m"
        before = _find(base, "Service", doc["metadata"]["name"])["spec"]["template"]
        assert (
            template["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"]
            == (before["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"])
        )
    for doc in by_kind(overlay, "KafkaSource"):
        assert doc == _find(base, "KafkaSource", doc["metadata"]["name"]), "the overlay leaves delivery alone"
