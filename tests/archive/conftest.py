"""A real S3 endpoint for the archive tests: LocalStack, one per test session.

Started from ``.venv-localstack/`` (``scripts/ensure-test-tools.sh`` installs it, ``make
test`` runs that first); when it is not installed the tests that need it skip and say so.
``AWS_ENDPOINT_URL`` in the environment uses that endpoint instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kairos.archive.objectstore import ObjectStore, S3Settings


@pytest.fixture(scope="session")
def s3_env() -> Iterator[dict[str, str]]:
    """The environment that reaches a real S3 endpoint (endpoint, dummy keys, region)."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "KAIROS_ARCHIVE_"))}
        return
    from kairos.localinfra.s3 import localstack_python, start_localstack

    if localstack_python() is None:
        pytest.skip("LocalStack is not installed in .venv-localstack (run scripts/ensure-test-tools.sh)")
    root = Path(tempfile.mkdtemp(prefix="kairos-test-s3-"))
    s3 = start_localstack(root, timeout=180)
    try:
        yield s3.env()
    finally:
        s3.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def bucket_env(s3_env: dict[str, str]) -> dict[str, str]:
    """A bucket of its own for one test (created on first upload)."""
    return {**s3_env, "KAIROS_ARCHIVE_BUCKET": f"t-{uuid.uuid4().hex[:12]}", "KAIROS_ARCHIVE_CREATE_BUCKET": "1"}


@pytest.fixture
def store(bucket_env: dict[str, str]) -> ObjectStore:
    return ObjectStore(S3Settings.from_env(bucket_env))


@pytest.fixture
def store_for(bucket_env: dict[str, str]) -> Callable[[dict[str, str]], ObjectStore]:
    """The test's bucket with some settings changed (e.g. an endpoint that is down)."""
    return lambda changes: ObjectStore(S3Settings.from_env({**bucket_env, **changes}), attempts=1, timeout_s=2)
