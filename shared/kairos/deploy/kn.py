"""Catalog -> ``kn`` commands: the Knative CLI path to the same wiring as ``k8s/knative/``.

``kairos manifests --kn`` prints a shell script an operator can run with ``kn`` (and its
``source kafka`` plugin) instead of ``kubectl apply -k k8s/knative``. Each command is made
from the same catalog entry and the same builders' values as the YAML manifests
(:mod:`kairos.deploy.manifests_knative`), and ``tests/deploy/test_kn.py`` parses the
script back into objects and compares them with the generated manifests.

What kn cannot say, and how the script says it anyway:

* ``kn source kafka create`` has no flags for delivery (retry, backoff, timeout, the
  dead-letter sink), ``ordering`` or ``initialOffset``: each KafkaSource is followed by a
  ``kubectl patch --type merge`` with exactly those fields. Without it a source that
  spends its retries drops the event silently.
* ``kn source ping create`` has no time zone or content type flag: same, one patch.
* KafkaTopics, KafkaSinks and the websocket sources' Deployment/SinkBinding are not kn
  objects: the script applies them first from the rendered kustomization, selected by label.
* ``enableServiceLinks: false`` and the container's name have no kn flag; Knative's
  defaults (service links on, ``user-container``) change nothing Kairos relies on.

Images are ``${REGISTRY}/kairos-<function>:${IMAGE_TAG}``: the script expects both
variables, like ``scripts/bootstrap.sh deploy``.
"""

from __future__ import annotations

import json
import shlex

from kairos.catalog.model import Catalog, Cron, Function, Subscription
from kairos.deploy.manifests_knative import (
    LIVENESS_PATH,
    READINESS_PATH,
    DeploySettings,
    kafka_source,
    kafka_source_name,
)

#: Label selector of the objects kn has no command for (KafkaTopic, KafkaSink, source workloads).
NON_KN_SELECTOR = "app.kubernetes.io/component in (topic,dead-letter-topic,dead-letter-sink,source-sink,source)"


def _line(*words: str) -> str:
    return " ".join(shlex.quote(w) if not w.startswith("${") else w for w in words)


def _image(fn: Function, settings: DeploySettings) -> str:
    return "${REGISTRY}/" + settings.image(fn.name) + ":${IMAGE_TAG}"


def _pairs(values: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items())


def service_command(catalog: Catalog, fn: Function, settings: DeploySettings) -> str:
    """``kn service create --force``: create or replace the function's Service."""
    scale = catalog.scale_for(fn)
    resources = catalog.resources_for(fn)
    labels = {
        "app.kubernetes.io/name": fn.name,
        "app.kubernetes.io/component": "function",
        **settings.common_labels,
    }
    words = ["kn", "service", "create", fn.name, "--force", "--namespace", catalog.namespace]
    words += ["--image", _image(fn, settings), "--port", str(settings.port)]
    words += ["--env-value-from", f"DATABASE_URL=secret:{settings.database_secret}:{settings.database_secret_key}"]
    for key, value in fn.env.items():
        words += ["--env", f"{key}={value}"]
    words += ["--env-from", f"config-map:{settings.runtime_configmap}"]
    for secret in fn.secrets:
        words += ["--env-from", f"secret:{secret}"]
    words += ["--scale-min", str(scale.min), "--scale-max", str(scale.max)]
    words += ["--scale-metric", "concurrency", "--scale-target", str(scale.concurrency)]
    words += ["--concurrency-limit", str(scale.concurrency)]
    words += ["--request", _pairs(dict(resources.requests)), "--limit", _pairs(dict(resources.limits))]
    words += ["--probe-readiness", f"http::{READINESS_PATH}", "--probe-readiness-opts", "periodSeconds=5"]
    words += ["--probe-liveness", f"http::{LIVENESS_PATH}"]
    words += ["--probe-liveness-opts", "periodSeconds=10,failureThreshold=3"]
    for key, value in labels.items():
        words += ["--label", f"{key}={value}"]
    return _line(*words)


def kafka_source_commands(catalog: Catalog, fn: Function, sub: Subscription, settings: DeploySettings) -> list[str]:
    """``kn source kafka create`` plus the patch carrying delivery, ordering and offset."""
    name = kafka_source_name(fn, sub)
    create = _line(
        "kn", "source", "kafka", "create", name, "--namespace", catalog.namespace,
        "--servers", ",".join(settings.bootstrap_servers), "--topics", sub.topic,
        "--consumergroup", sub.consumer_group, "--sink", f"ksvc:{fn.name}",
        "--label", f"app.kubernetes.io/name={fn.name}",
        "--label", "app.kubernetes.io/component=subscription",
        "--label", f"kairos.dev/topic={sub.topic}",
        *(w for k, v in settings.common_labels.items() for w in ("--label", f"{k}={v}")),
    )  # fmt: skip
    # The patch carries the YAML builder's own values (it raises without a dead-letter topic).
    source_spec = kafka_source(catalog, fn, sub, settings)["spec"]
    spec = {"spec": {key: source_spec[key] for key in ("initialOffset", "ordering", "delivery")}}
    patch = _line(
        "kubectl", "-n", catalog.namespace, "patch", "kafkasource", name, "--type", "merge",
        "-p", json.dumps(spec, separators=(",", ":")),
    )  # fmt: skip
    return [create, patch]


def ping_source_commands(catalog: Catalog, fn: Function, cron: Cron) -> list[str]:
    """``kn source ping create`` plus the patch carrying time zone and content type."""
    create = _line(
        "kn", "source", "ping", "create", cron.name, "--namespace", catalog.namespace,
        "--schedule", cron.schedule, "--data", json.dumps(cron.data, sort_keys=True, separators=(",", ":")),
        "--sink", f"ksvc:{fn.name}",
    )  # fmt: skip
    spec = {"spec": {"timezone": cron.timezone, "contentType": "application/json"}}
    patch = _line(
        "kubectl", "-n", catalog.namespace, "patch", "pingsource", cron.name, "--type", "merge",
        "-p", json.dumps(spec, separators=(",", ":")),
    )  # fmt: skip
    return [create, patch]


def kn_commands(catalog: Catalog, settings: DeploySettings | None = None) -> list[str]:
    """Every command, in the order to run them (topics and sinks, services, then sources)."""
    settings = settings or DeploySettings()
    lines = [
        _line("kubectl", "kustomize", "k8s/knative")
        + " | "
        + _line("kubectl", "apply", "-l", NON_KN_SELECTOR, "-f", "-")
    ]
    lines += [service_command(catalog, fn, settings) for fn in catalog.functions]
    for fn in catalog.functions:
        for sub in fn.subscriptions:
            lines += kafka_source_commands(catalog, fn, sub, settings)
        for cron in fn.crons:
            lines += ping_source_commands(catalog, fn, cron)
    return lines


def kn_script(catalog: Catalog, settings: DeploySettings | None = None) -> str:
    header = [
        "#!/usr/bin/env bash",
        "# Generated by `kairos manifests --kn` from the catalog: the same wiring as k8s/knative/, with kn.",
        "# Needs kn with the source-kafka plugin, kubectl, and REGISTRY / IMAGE_TAG set (the images pushed",
        "# by `scripts/bootstrap.sh build`). KafkaTopics, KafkaSinks and websocket sources are not kn objects:",
        "# the first line applies them from the rendered kustomization.",
        "set -euo pipefail",
        ': "${REGISTRY:?set REGISTRY}" "${IMAGE_TAG:?set IMAGE_TAG}"',
    ]
    return "\n".join(header + kn_commands(catalog, settings)) + "\n"
