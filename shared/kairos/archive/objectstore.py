"""The S3 side of the archive: settings from the environment and a small client.

Any S3-compatible endpoint works (AWS, Hetzner Object Storage, LocalStack). Credentials
come from the standard ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` variables (a
Kubernetes Secret in production); nothing here stores or prints them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from kairos.errors import ConfigError, TransientError

DEFAULT_BUCKET = "kairos-archive"


@dataclass(frozen=True)
class S3Settings:
    """Where the archive lives.

    ``AWS_ENDPOINT_URL`` (empty: AWS's; the name boto3 itself reads), ``KAIROS_ARCHIVE_BUCKET`` (default
    ``kairos-archive``), ``KAIROS_ARCHIVE_PREFIX`` (default empty: keys start with the
    topic), ``KAIROS_S3_REGION`` (else ``AWS_DEFAULT_REGION``, else ``us-east-1``),
    ``KAIROS_ARCHIVE_CREATE_BUCKET`` (``1``: create the bucket when missing; locally yes,
    in production the bucket exists already and the key may not create buckets).
    """

    endpoint: str | None
    bucket: str
    prefix: str
    region: str
    create_bucket: bool
    access_key: str | None = None
    secret_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Settings:
        bucket = env.get("KAIROS_ARCHIVE_BUCKET") or DEFAULT_BUCKET
        prefix = env.get("KAIROS_ARCHIVE_PREFIX", "")
        if prefix and not prefix.endswith("/"):
            raise ConfigError(f"KAIROS_ARCHIVE_PREFIX must end with '/', got {prefix!r}")
        return cls(
            endpoint=env.get("AWS_ENDPOINT_URL") or None,
            bucket=bucket,
            prefix=prefix,
            region=env.get("KAIROS_S3_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            create_bucket=env.get("KAIROS_ARCHIVE_CREATE_BUCKET", "0") == "1",
            access_key=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        )


class ObjectStore:
    """put/get/head/list on one bucket; every failure of the endpoint is a TransientError
    (retry later), a missing object is ``None``."""

    def __init__(self, settings: S3Settings, *, attempts: int = 3, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.endpoint,
            region_name=settings.region,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            config=Config(
                retries={"max_attempts": attempts, "mode": "standard"},
                connect_timeout=min(timeout_s, 3.0),
                read_timeout=timeout_s,
                s3={"addressing_style": "path"},
            ),
        )
        self._bucket_checked = False

    @property
    def bucket(self) -> str:
        return self.settings.bucket

    def _fail(self, what: str, exc: Exception) -> TransientError:
        where = self.settings.endpoint or "AWS S3"
        return TransientError(f"object storage {where} bucket {self.bucket}: {what} failed: {exc}")

    def ensure_bucket(self) -> None:
        """Create the bucket when allowed and missing (once per store)."""
        if self._bucket_checked or not self.settings.create_bucket:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise self._fail("create bucket", exc) from exc
        except BotoCoreError as exc:
            raise self._fail("head bucket", exc) from exc
        self._bucket_checked = True

    def put(self, key: str, body: bytes, *, sha256: str, count: int) -> None:
        """Write ``body`` at ``key``; S3 checks the MD5 we send, so a torn upload is refused."""
        import base64

        self.ensure_bucket()
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentMD5=md5,
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
                Metadata={"sha256": sha256, "events": str(count)},
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"put {key}", exc) from exc

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail(f"get {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._fail(f"get {key}", exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"delete {key}", exc) from exc

    def list_keys(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """(key, size) of every object under ``prefix``."""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.settings.prefix + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield str(item["Key"]), int(item["Size"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                return
            raise self._fail("list", exc) from exc
        except BotoCoreError as exc:
            raise self._fail("list", exc) from exc
