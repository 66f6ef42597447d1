"""``kairos serve``: a function that cannot start exits with the reason instead of idling."""

from __future__ import annotations

import os
import subprocess
import sys

from kairos.localinfra.ports import free_port


def test_function_with_bad_configuration_exits_naming_the_variable():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env.update(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1", LISTEN_ADDRESS=f"127.0.0.1:{free_port()}")
    done = subprocess.run(
        [sys.executable, "-m", "kairos.cli", "serve", "reactor"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    assert "DATABASE_URL" in done.stderr


def test_bad_kafka_profile_is_refused_at_start():
    env = dict(
        os.environ,
        DATABASE_URL="postgresql:///x",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
        KAIROS_KAFKA_PROFILE="bogus",
        LISTEN_ADDRESS=f"127.0.0.1:{free_port()}",
    )
    done = subprocess.run(
        [sys.executable, "-m", "kairos.cli", "serve", "reactor"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3 and "KAIROS_KAFKA_PROFILE" in done.stderr
