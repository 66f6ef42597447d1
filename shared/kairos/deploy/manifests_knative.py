"""Catalog -> Kubernetes objects: one pure builder per kind, no I/O.

Every object the cluster runs for Kairos is derived here from the catalog, so the local
runner (which reads the same catalog) and production cannot disagree on a topic name, a
consumer group, a retry policy or a schedule. The names the platform layer owns (the
runtime ConfigMap, the database Secret, the broker address, the image naming that the
deploy step rewrites) are gathered in :class:`DeploySettings`; ``tests/deploy`` checks
them against ``k8s/app/`` and ``docs/PLATFORM.md``.

Knative specifics worth knowing when reading this module:

* a KafkaSource without ``delivery.deadLetterSink`` drops an event silently once its
  retries are spent, so every subscription gets the function's dead-letter KafkaSink;
* the reply of a KafkaSource sink is discarded (functions publish through their outbox),
  so KafkaSinks exist only for dead letters and for sources that post over HTTP;
* ``containerConcurrency`` is the hard per-pod limit; the ``target`` annotation is the
  autoscaler's soft target, set equal so a pod is never asked for more than it accepts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from kairos.catalog.model import Catalog, Cron, Function, Subscription, Topic
from kairos.errors import ConfigError

Manifest = dict[str, Any]

SERVING = "serving.knative.dev/v1"
SOURCES = "sources.knative.dev/v1"
KAFKA_SINK = "eventing.knative.dev/v1alpha1"
STRIMZI = "kafka.strimzi.io/v1"
#: Paths func-python serves (``func_python.cloudevent``); the func.yaml says the same.
LIVENESS_PATH = "/health/liveness"
READINESS_PATH = "/health/readiness"
#: The function container's name in every Service (overlay patches merge on it).
CONTAINER = "function"
_MAX_NAME = 63  # Knative derives label values and Deployment names from these names


@dataclass(frozen=True)
class DeploySettings:
    """What the manifests need beyond the catalog: the platform layer's names and sizes.

    Defaults are the contract of docs/PLATFORM.md ("The app layer and its contract with
    the generated manifests"). ``topic_replicas``/``min_insync_replicas`` describe a
    three-broker cluster (the base); the single-node overlay lowers them to one.
    """

    bootstrap_servers: tuple[str, ...] = ("kairos-kafka-bootstrap.kafka.svc.cluster.local:9092",)
    kafka_namespace: str = "kafka"
    kafka_cluster: str = "kairos"
    runtime_configmap: str = "kairos-runtime"
    database_secret: str = "kairos-pg-app"
    database_secret_key: str = "uri"
    image_pattern: str = "kairos-{name}"
    port: int = 8080
    topic_replicas: int = 3
    min_insync_replicas: int = 2
    common_labels: dict[str, str] = field(
        default_factory=lambda: {
            "app.kubernetes.io/part-of": "kairos",
            "app.kubernetes.io/managed-by": "kairos-manifests",
        }
    )

    def image(self, name: str) -> str:
        return self.image_pattern.format(name=name)


def slug(text: str) -> str:
    """A DNS-1123 label from a topic or cron name (``raw.near_intents.quote`` -> ``raw-near-intents-quote``)."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def checked_name(name: str) -> str:
    """``name`` if Kubernetes accepts it as an object name here; ConfigError naming it otherwise."""
    if len(name) > _MAX_NAME or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name):
        raise ConfigError(f"generated name {name!r} is not a DNS-1123 label of at most {_MAX_NAME} characters")
    return name


def kafka_source_name(fn: Function, sub: Subscription) -> str:
    return checked_name(f"{fn.name}-{slug(sub.topic)}")


def kafka_sink_name(topic: str) -> str:
    return checked_name(slug(topic))


def meta(name: str, namespace: str, settings: DeploySettings, labels: dict[str, str]) -> Manifest:
    """Object metadata with the labels every generated object carries (kubectl -l finds them all)."""
    return {"name": name, "namespace": namespace, "labels": {**labels, **settings.common_labels}}


def sink_ref(api_version: str, kind: str, name: str) -> Manifest:
    """A Knative Destination by reference (resolved in the object's own namespace)."""
    return {"ref": {"apiVersion": api_version, "kind": kind, "name": name}}


# --- functions ---------------------------------------------------------------------------


def scale_annotations(catalog: Catalog, fn: Function) -> dict[str, str]:
    """Knative autoscaling annotations of ``fn`` (strings: annotations are string maps)."""
    scale = catalog.scale_for(fn)
    return {
        "autoscaling.knative.dev/min-scale": str(scale.min),
        "autoscaling.knative.dev/max-scale": str(scale.max),
        "autoscaling.knative.dev/metric": "concurrency",
        "autoscaling.knative.dev/target": str(scale.concurrency),
    }


def container_env(fn: Function, settings: DeploySettings) -> tuple[list[Manifest], list[Manifest]]:
    """(env, envFrom) of a function container.

    The runtime ConfigMap carries the broker address and profile, the database URL is the
    ``uri`` key CloudNativePG writes, the catalog's secrets are mounted whole (their keys
    are the variable names) and the catalog's ``env`` is literal.
    """
    env: list[Manifest] = [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": settings.database_secret, "key": settings.database_secret_key}},
        }
    ]
    env += [{"name": key, "value": value} for key, value in fn.env.items()]
    env_from: list[Manifest] = [{"configMapRef": {"name": settings.runtime_configmap}}]
    env_from += [{"secretRef": {"name": secret}} for secret in fn.secrets]
    return env, env_from


def service(catalog: Catalog, fn: Function, settings: DeploySettings) -> Manifest:
    """The Knative Service that serves ``fn`` with ``kairos serve`` (the image's command)."""
    scale = catalog.scale_for(fn)
    resources = catalog.resources_for(fn)
    env, env_from = container_env(fn, settings)
    labels = {"app.kubernetes.io/name": fn.name, "app.kubernetes.io/component": "function"}
    return {
        "apiVersion": SERVING,
        "kind": "Service",
        "metadata": meta(checked_name(fn.name), catalog.namespace, settings, labels),
        "spec": {
            "template": {
                "metadata": {
                    "labels": {**labels, **settings.common_labels},
                    "annotations": scale_annotations(catalog, fn),
                },
                "spec": {
                    "containerConcurrency": scale.concurrency,
                    "enableServiceLinks": False,
                    "containers": [
                        {
                            "name": CONTAINER,
                            "image": settings.image(fn.name),
                            "ports": [{"containerPort": settings.port}],
                            "env": env,
                            "envFrom": env_from,
                            "readinessProbe": {"httpGet": {"path": READINESS_PATH}, "periodSeconds": 5},
                            "livenessProbe": {
                                "httpGet": {"path": LIVENESS_PATH},
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                            "resources": {"requests": dict(resources.requests), "limits": dict(resources.limits)},
                        }
                    ],
                },
            }
        },
    }


def kafka_source(catalog: Catalog, fn: Function, sub: Subscription, settings: DeploySettings) -> Manifest:
    """One KafkaSource per subscription: explicit group, offset, ordering, retries and DLQ.

    ``initialOffset: earliest`` because a new consumer group must not skip what was
    published before it existed (the local broker is read the same way). Raises
    ConfigError when ``fn`` has no dead-letter topic (the catalog check reports it too).
    """
    if fn.dead_letter_topic is None:
        raise ConfigError(f"function {fn.name} subscribes to {sub.topic} without a dead_letter_topic")
    policy = catalog.delivery_for(sub)
    return {
        "apiVersion": SOURCES,
        "kind": "KafkaSource",
        "metadata": meta(
            kafka_source_name(fn, sub),
            catalog.namespace,
            settings,
            {
                "app.kubernetes.io/name": fn.name,
                "app.kubernetes.io/component": "subscription",
                "kairos.dev/topic": sub.topic,
            },
        ),
        "spec": {
            "bootstrapServers": list(settings.bootstrap_servers),
            "topics": [sub.topic],
            "consumerGroup": sub.consumer_group,
            "initialOffset": "earliest",
            "ordering": sub.ordering,
            "delivery": {
                "retry": policy.retry,
                "backoffPolicy": policy.backoff_policy,
                "backoffDelay": policy.backoff_delay,
                "timeout": policy.timeout,
                "deadLetterSink": sink_ref(KAFKA_SINK, "KafkaSink", kafka_sink_name(fn.dead_letter_topic)),
            },
            "sink": sink_ref(SERVING, "Service", fn.name),
        },
    }


def ping_source(catalog: Catalog, fn: Function, cron: Cron, settings: DeploySettings) -> Manifest:
    """One PingSource per cron entry; ``data`` is the JSON text the function parses."""
    return {
        "apiVersion": SOURCES,
        "kind": "PingSource",
        "metadata": meta(
            checked_name(cron.name),
            catalog.namespace,
            settings,
            {"app.kubernetes.io/name": fn.name, "app.kubernetes.io/component": "cron"},
        ),
        "spec": {
            "schedule": cron.schedule,
            "timezone": cron.timezone,
            "contentType": "application/json",
            "data": json.dumps(cron.data, sort_keys=True, separators=(",", ":")),
            "sink": sink_ref(SERVING, "Service", fn.name),
        },
    }


# --- topics and sinks --------------------------------------------------------------------


def kafka_sink(catalog: Catalog, topic: Topic, settings: DeploySettings, component: str) -> Manifest:
    """A KafkaSink writing binary-mode CloudEvents (attributes as headers) to ``topic``.

    Sized like the topic's KafkaTopic so that whichever creates the topic first, it is the
    same topic.
    """
    return {
        "apiVersion": KAFKA_SINK,
        "kind": "KafkaSink",
        "metadata": meta(
            kafka_sink_name(topic.name),
            catalog.namespace,
            settings,
            {"app.kubernetes.io/component": component, "kairos.dev/topic": topic.name},
        ),
        "spec": {
            "topic": topic.name,
            "bootstrapServers": list(settings.bootstrap_servers),
            "numPartitions": topic.partitions,
            "replicationFactor": settings.topic_replicas,
            "contentMode": "binary",
        },
    }


def kafka_topic(topic: Topic, settings: DeploySettings) -> Manifest:
    """A Strimzi KafkaTopic (brokers never auto-create topics: k8s/platform/kafka)."""
    return {
        "apiVersion": STRIMZI,
        "kind": "KafkaTopic",
        "metadata": {
            "name": checked_name(slug(topic.name)),
            "namespace": settings.kafka_namespace,
            "labels": {
                "strimzi.io/cluster": settings.kafka_cluster,
                "app.kubernetes.io/component": "dead-letter-topic" if topic.dead_letter else "topic",
                **settings.common_labels,
            },
        },
        "spec": {
            "topicName": topic.name,
            "partitions": topic.partitions,
            "replicas": settings.topic_replicas,
            "config": {
                "retention.ms": topic.retention_ms,
                "cleanup.policy": "delete",
                "min.insync.replicas": settings.min_insync_replicas,
            },
        },
    }
