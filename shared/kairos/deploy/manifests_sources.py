"""Catalog sources -> Deployment + SinkBinding (the ContainerSource pattern, spelled out).

The validated CRD set (``../shared/k8s-crds``) has no ContainerSource, and a
ContainerSource is only a Deployment plus a SinkBinding made by a controller anyway, so
the two are written directly: the Deployment runs the source's command, the SinkBinding
injects ``K_SINK`` (the URL of the KafkaSink of the source's topic) into its pods.
"""

from __future__ import annotations

from kairos.catalog.model import Catalog, Source
from kairos.deploy.manifests_knative import (
    KAFKA_SINK,
    SOURCES,
    DeploySettings,
    Manifest,
    checked_name,
    kafka_sink_name,
    meta,
    sink_ref,
)
from kairos.errors import ConfigError


def source_output(source: Source) -> str:
    """The one topic a source posts to (a SinkBinding has exactly one sink); ConfigError otherwise."""
    if len(source.publishes) != 1:
        raise ConfigError(f"source {source.name} must publish exactly one topic to get a sink, not {source.publishes}")
    return source.publishes[0]


def source_image_function(catalog: Catalog, source: Source) -> str:
    """The function whose image runs ``source`` (every function image carries the kairos CLI).

    The deploy step builds and rewrites images per function directory only, so a source
    borrows the image of the first function that reads its topic.
    """
    topic = source_output(source)
    for fn in catalog.functions:
        if any(sub.topic == topic for sub in fn.subscriptions):
            return fn.name
    raise ConfigError(f"no function reads {topic}, the output of source {source.name}: no image to run it with")


def source_workload(catalog: Catalog, source: Source, settings: DeploySettings) -> list[Manifest]:
    """Deployment + SinkBinding for ``source`` (no ContainerSource CRD in the validated set).

    The SinkBinding injects ``K_SINK`` (the output KafkaSink's URL) into the pods; the
    ingest posts binary CloudEvents there. One replica with ``Recreate``: two websocket
    clients would only double the traffic (duplicates are deduped downstream anyway).
    """
    output = source_output(source)
    labels = {"app.kubernetes.io/name": source.name, "app.kubernetes.io/component": "source"}
    pod_labels = {**labels, **settings.common_labels}
    resources = catalog.defaults.resources
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(checked_name(source.name), catalog.namespace, settings, labels),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": source.name}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "enableServiceLinks": False,
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "source",
                            "image": settings.image(source_image_function(catalog, source)),
                            "command": list(source.command),
                            "env": [{"name": key, "value": value} for key, value in source.env.items()],
                            "envFrom": [{"configMapRef": {"name": settings.runtime_configmap}}],
                            "resources": {"requests": dict(resources.requests), "limits": dict(resources.limits)},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }
    binding: Manifest = {
        "apiVersion": SOURCES,
        "kind": "SinkBinding",
        "metadata": meta(checked_name(source.name), catalog.namespace, settings, labels),
        "spec": {
            "subject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": source.name},
            "sink": sink_ref(KAFKA_SINK, "KafkaSink", kafka_sink_name(output)),
        },
    }
    return [deployment, binding]
