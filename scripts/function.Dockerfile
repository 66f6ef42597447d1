# syntax=docker/dockerfile:1
# One image per Kairos function, built from the repository root:
#
#   docker build -f scripts/function.Dockerfile \
#     --build-arg PYTHON_BASE_IMAGE=<PYTHON_BASE_IMAGE of k8s/platform/versions.conf> \
#     --build-arg FUNCTION=<directory under functions/> -t <registry>/kairos-<function>:<tag> .
#
# scripts/bootstrap.sh (step "build") does exactly that for every functions/<name>/.
# Base image: the official Debian-slim CPython image at the Python of pyproject.toml
# (psycopg[binary], cryptography and friends ship manylinux wheels, so no compiler).
# The function project is installed alone, from what its own pyproject.toml names, exactly
# as Knative's `func build` installs it: the kairos library is the wheel vendored in
# functions/<name>/vendor/ by `make manifests` (kairos manifests --wheel), never the PyPI
# project of the same name (docs/DEPLOYMENT_MANIFESTS.md, "Building a function").

ARG PYTHON_BASE_IMAGE

# checkov:skip=CKV_DOCKER_7: the base image is a build arg on purpose; its exact tag (never "latest") lives in k8s/platform/versions.conf, and tests/infra/test_versions_pinned.py fails if it is not pinned.
FROM ${PYTHON_BASE_IMAGE} AS build
ARG FUNCTION
RUN test -n "${FUNCTION}" || { echo "--build-arg FUNCTION=<directory under functions/> is required" >&2; exit 1; }
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY functions/${FUNCTION}/ /app/functions/${FUNCTION}/
RUN ls /app/functions/${FUNCTION}/vendor/kairos-*.whl >/dev/null 2>&1 || \
      { echo "functions/${FUNCTION}/vendor/ holds no kairos wheel: run 'make manifests' first" >&2; exit 1; }
RUN python -m venv /opt/venv && /opt/venv/bin/pip install "/app/functions/${FUNCTION}"

FROM ${PYTHON_BASE_IMAGE}
ARG FUNCTION
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/functions/${FUNCTION}/ /app/functions/${FUNCTION}/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LISTEN_ADDRESS=0.0.0.0:8080 \
    KAIROS_FUNCTION_DIR=/app/functions/${FUNCTION}
WORKDIR /app
# Unprivileged, numeric (Kubernetes' runAsNonRoot can verify a numeric user).
USER 65532:65532
EXPOSE 8080
# Knative probes the function itself; this only serves plain `docker run`.
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health/liveness', timeout=2)"]
CMD ["sh", "-c", "exec kairos serve \"$KAIROS_FUNCTION_DIR\""]
