"""Deployment helpers: offline validation of Kubernetes manifests (see :mod:`kairos.deploy.validate`)."""

from kairos.deploy.validate import (
    CORE_KINDS,
    DEFAULT_KUBERNETES_VERSION,
    validate_documents,
    validate_manifest,
)

__all__ = ["CORE_KINDS", "DEFAULT_KUBERNETES_VERSION", "validate_documents", "validate_manifest"]
