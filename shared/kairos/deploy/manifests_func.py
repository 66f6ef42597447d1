"""Catalog -> ``functions/<name>/func.yaml`` (Knative ``func`` CLI format), agreeing with the Service.

The func.yaml is what ``func build``/``func deploy`` and ``func invoke`` read. Kairos
deploys with the generated Knative manifests (scripts/bootstrap.sh), but a function
project must still describe itself truthfully: same name, namespace, scale, resources,
environment and health endpoints as its Service. Both are made from the same catalog
entry here and in :mod:`kairos.deploy.manifests_knative`, and ``tests/deploy`` compares
them field by field.

Environment references use func's template syntax: ``{{ secret:NAME:KEY }}`` for one key,
``{{ secret:NAME }}`` / ``{{ configMap:NAME }}`` (entries without ``name``) for every key.
"""

from __future__ import annotations

from typing import Any

from kairos.catalog.model import Catalog, Function
from kairos.deploy.manifests_knative import LIVENESS_PATH, READINESS_PATH, DeploySettings

#: func's spec version these files follow (the schema of knative/func ``schema/func_yaml-schema.json``).
FUNC_SPEC_VERSION = "0.36.0"
#: func requires ``created``; a fixed instant keeps the generated file reproducible.
FUNC_CREATED = "2026-01-01T00:00:00Z"


def func_envs(fn: Function, settings: DeploySettings) -> list[dict[str, str]]:
    """``run.envs``: the same variables, from the same objects, as the Service's env/envFrom."""
    envs = [
        {
            "name": "DATABASE_URL",
            "value": f"{{{{ secret:{settings.database_secret}:{settings.database_secret_key} }}}}",
        }
    ]
    envs += [{"name": key, "value": value} for key, value in fn.env.items()]
    envs.append({"value": f"{{{{ configMap:{settings.runtime_configmap} }}}}"})
    envs += [{"value": f"{{{{ secret:{secret} }}}}"} for secret in fn.secrets]
    return envs


def func_yaml(catalog: Catalog, fn: Function, settings: DeploySettings) -> dict[str, Any]:
    """The func.yaml document of ``fn``.

    No ``image``/``registry``: images are named ``kairos-<function>`` and the deploy step
    points them at the operator's registry (docs/PLATFORM.md).
    """
    scale = catalog.scale_for(fn)
    resources = catalog.resources_for(fn)
    labels = {"app.kubernetes.io/name": fn.name, "app.kubernetes.io/component": "function", **settings.common_labels}
    return {
        "specVersion": FUNC_SPEC_VERSION,
        "name": fn.name,
        "runtime": "python",
        "namespace": catalog.namespace,
        "created": FUNC_CREATED,
        "invoke": "http" if fn.kind == "http" else "cloudevent",
        "run": {"envs": func_envs(fn, settings)},
        "deploy": {
            "namespace": catalog.namespace,
            "labels": [{"key": key, "value": value} for key, value in labels.items()],
            "healthEndpoints": {"liveness": LIVENESS_PATH, "readiness": READINESS_PATH},
            "options": {
                "scale": {"min": scale.min, "max": scale.max, "metric": "concurrency", "target": scale.concurrency},
                "resources": {
                    "requests": dict(resources.requests),
                    "limits": {**resources.limits, "concurrency": scale.concurrency},
                },
            },
        },
    }
