"""A private S3 endpoint: LocalStack (S3 only) from its own virtualenv, no Docker.

LocalStack pins boto3, cryptography and pyOpenSSL at versions that clash with the
application's, so it lives in ``.venv-localstack/`` (made by ``scripts/ensure-test-tools.sh``
from ``scripts/localstack/constraints.txt``) and runs as a separate process; Kairos talks
to it over HTTP with its own boto3, exactly as it talks to any S3 endpoint in production.
Objects live in memory and in LocalStack's scratch folder: a restart loses them.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kairos.localinfra.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCALSTACK_VENV_ENV = "KAIROS_LOCALSTACK_VENV"
# Test credentials LocalStack accepts; it checks nothing. Not a secret.
LOCAL_ACCESS_KEY = "test"
LOCAL_SECRET_KEY = "test"
LOCAL_REGION = "us-east-1"


def localstack_python() -> Path | None:
    """The interpreter of the LocalStack virtualenv, or None when it is not installed."""
    venv = Path(os.environ.get(LOCALSTACK_VENV_ENV) or REPO_ROOT / ".venv-localstack")
    python = venv / "bin" / "python"
    if not python.is_file():
        return None
    probe = subprocess.run([str(python), "-c", "import localstack.runtime.main"], capture_output=True, timeout=60)
    return python if probe.returncode == 0 else None


@dataclass
class LocalS3:
    """A running LocalStack process and the S3 endpoint it serves."""

    process: subprocess.Popen[bytes]
    endpoint: str
    root: Path
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def env(self) -> dict[str, str]:
        """What a Kairos process needs to reach this endpoint (the archive reads these)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "KAIROS_ARCHIVE_CREATE_BUCKET": "1",
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
        }

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until S3 answers; RuntimeError naming the log when it does not."""
        _wait_for_s3(self, timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s (LocalStack exits in 2-6 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_localstack(root: Path, port: int | None = None, log_file: Path | None = None,
                     timeout: float = 90.0) -> LocalS3:
    """Start LocalStack S3 on 127.0.0.1 and wait until S3 answers (first call ~2-7 s on a
    quiet machine, ~20 s on a loaded one).

    Raises RuntimeError saying how to install it when the virtualenv is missing, or with the
    log's path when it does not come up.
    """
    s3 = launch_localstack(root, port, log_file)
    try:
        s3.wait_ready(timeout)
    except Exception:
        s3.stop()
        raise
    return s3


def launch_localstack(root: Path, port: int | None = None, log_file: Path | None = None) -> LocalS3:
    """Start LocalStack S3 without waiting for it (``kairos dev`` lets it boot while the
    functions start; nothing uploads before archive-flush's first tick)."""
    python = localstack_python()
    if python is None:
        raise RuntimeError(
            "LocalStack is not installed: run scripts/ensure-test-tools.sh (it installs .venv-localstack/)"
        )
    root.mkdir(parents=True, exist_ok=True)
    fs = root / "fs"
    catalog_dir = fs / "usr" / "lib" / "localstack"
    env = {
        **os.environ,
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(fs),
        "TMPDIR": str(root),
        "SERVICES": "s3",
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "LOCALSTACK_TELEMETRY": "0",
    }
    if not catalog_dir.is_dir():  # pre-warm its service catalog once: ~5 s and ~350 MB less at start
        catalog_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), "-m", "localstack.aws.spec"], env=env, capture_output=True, timeout=120)
    port = port or free_port()
    env["GATEWAY_LISTEN"] = f"127.0.0.1:{port}"
    log_path = log_file or root / "localstack.log"
    proc = subprocess.Popen(
        [str(python), "-m", "localstack.runtime.main"],
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return LocalS3(process=proc, endpoint=f"http://127.0.0.1:{port}", root=root, log_path=log_path)


def _wait_for_s3(s3: LocalS3, timeout: float) -> None:
    from botocore.config import Config
    from localstack_client.session import Session

    session = Session(aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_SECRET_KEY,
                      region_name=LOCAL_REGION, localstack_host=s3.endpoint.removeprefix("http://"))
    client = session.client("s3", config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=10))
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if s3.process.poll() is not None:
            raise RuntimeError(f"LocalStack exited with code {s3.process.returncode}; see {s3.log_path}")
        try:
            client.list_buckets()
            return
        except Exception as exc:  # not listening yet, or S3 not loaded yet
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.3)
    raise RuntimeError(f"LocalStack S3 did not answer in {timeout:.0f}s ({last}); see {s3.log_path}")
