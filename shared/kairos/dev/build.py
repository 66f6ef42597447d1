"""Turn the catalog into the list of processes ``kairos dev`` runs.

Nothing here is specific to one function or source: functions, subscriptions, crons and
sources all come from the catalog, exactly as the Knative manifests do. The only local
additions are the fake NEAR Intents solver bus (unless a real URL is given) and the
venue simulator (when its module is installed).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kairos.catalog import Catalog
from kairos.dev.state import StateDir
from kairos.dev.supervisor import ManagedProcess
from kairos.localinfra.ports import free_port, listening_socket

NEAR_INTENTS_URL_ENV = "NEAR_INTENTS_WS_URL"
VENUE_API_KEY = "kairos-dev-key"
VENUE_API_SECRET = "kairos-dev-secret"  # a local simulator's credential, not a secret
VENUE_URL_ENV = "KAIROS_VENUE_BASE_URL"
DEV_ACCOUNT = "dev-sim"


def kairos_argv(*args: str) -> list[str]:
    """``kairos ARGS`` with the interpreter running this runner (the project's venv)."""
    return [sys.executable, "-m", "kairos.cli", *args]


def command_argv(command: Sequence[str]) -> list[str]:
    """A catalog ``command``; a leading ``kairos`` runs through this interpreter."""
    return kairos_argv(*command[1:]) if command and command[0] == "kairos" else list(command)


@dataclass(frozen=True)
class Infra:
    """Where the shared services are, handed to every child through its environment."""

    database_url: str
    kafka_bootstrap: str
    kafka_profile: str
    venue: Mapping[str, str]
    secrets: Mapping[str, str]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                "KAIROS_KAFKA_PROFILE": self.kafka_profile,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.venue)
        env.update(self.secrets)
        return env


def venue_sim_available() -> bool:
    return importlib.util.find_spec("kairos.venue_sim.cli") is not None


def venue_sim_process(state: StateDir, seed: int) -> tuple[ManagedProcess, dict[str, str]]:
    """The simulated Binance USD-M venue and the environment that points clients at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = kairos_argv(
        "venue-sim",
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--api-key",
        VENUE_API_KEY,
        "--api-secret",
        VENUE_API_SECRET,
    )
    proc = ManagedProcess("venue-sim", "venue", argv, dict(os.environ), state.log("venue-sim"), url, "/_sim/health")
    # Only the address goes to every child (the market-data jobs read it); the funded
    # account's keys do not: register_dev_account seals them into Postgres like any account.
    return proc, {VENUE_URL_ENV: url}


def register_dev_account(infra: Infra) -> None:
    """The simulator's funded account as the LIVE account ``dev-sim`` (keys sealed with this
    run's KEK, as ``kairos account add`` does), so a command naming it trades through the
    simulator. Its protection is the defaults' (portfolio warns at start until one is set)."""
    import psycopg

    from kairos.execution import accounts
    from kairos.execution.vault import KeyVault
    from kairos.runtime.db import migrate
    from kairos.venues.port import Credentials

    migrate(infra.database_url)
    vault = KeyVault.from_env(infra.env())
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        accounts.register(conn, vault, DEV_ACCOUNT, venue="binanceusdm", mode="live",
                          base_url=infra.venue[VENUE_URL_ENV], creds=Credentials(VENUE_API_KEY, VENUE_API_SECRET))


def fake_bus_process(state: StateDir, rate: float, seed: int, malformed_every: int) -> tuple[ManagedProcess, str]:
    """The local NEAR Intents solver bus and its websocket URL."""
    port = free_port()
    argv = kairos_argv("fake-solver-bus", "--port", str(port), "--rate", str(rate), "--seed", str(seed))
    if malformed_every:
        argv += ["--malformed-every", str(malformed_every)]
    proc = ManagedProcess("fake-solver-bus", "source", argv, dict(os.environ), state.log("fake-solver-bus"))
    return proc, f"ws://127.0.0.1:{port}"


def missing_projects(catalog: Catalog) -> list[str]:
    """Catalog functions without a ``functions/<name>/function/func.py`` to serve."""
    from kairos.runtime.loader import function_dir

    missing = []
    for fn in catalog.functions:
        try:
            function_dir(fn.name)
        except FileNotFoundError:
            missing.append(fn.name)
    return missing


def function_processes(catalog: Catalog, state: StateDir, infra: Infra, only: set[str]) -> list[ManagedProcess]:
    """One ``kairos serve`` per function (all, or those in ``only``), each on its own port.

    The runner binds each port itself (port 0) and hands the listening socket to the
    child, instead of picking free ports and letting children bind them later (two
    children could get the same port, one answering the other's readiness probe).

    A catalog entry whose project folder does not exist yet is left out (see
    :func:`missing_projects`); the runner says so instead of restarting it forever.
    """
    procs: list[ManagedProcess] = []
    missing = set(missing_projects(catalog))
    for fn in catalog.functions:
        if (only and fn.name not in only) or fn.name in missing:
            continue
        sock = listening_socket()  # bound here and inherited: no other child can take the port
        port = int(sock.getsockname()[1])
        # the catalog's env is the default; a variable the operator exported wins over it
        chosen = {k: os.environ[k] for k in fn.env if k in os.environ}
        env = {**infra.env(), **fn.env, **chosen, "LISTEN_ADDRESS": f"127.0.0.1:{port}"}
        if fn.kind == "http":  # the operator API reaches the reconciler at its local address
            env.update({f"KAIROS_{p.name.upper()}_URL": p.url for p in procs if p.name == "reconciler" and p.url})
        procs.append(
            ManagedProcess(
                fn.name,
                "function",
                kairos_argv("serve", fn.name),
                env,
                state.log(fn.name),
                url=f"http://127.0.0.1:{port}",
                ready_path="/health/readiness",
                listen_socket=sock,
            )
        )
    return procs


def delivery_process(
    state: StateDir, infra: Infra, functions: Sequence[ManagedProcess], interval: float = 0.5
) -> ManagedProcess:
    """One ``kairos deliver`` running every subscription and cron of the given functions."""
    argv = kairos_argv("deliver", "--stats-file", str(state.stats_file), "--stats-interval", str(interval))
    for fn in functions:
        argv += ["--sink", f"{fn.name}={fn.url}"]
    return ManagedProcess("deliveries", "delivery", argv, infra.env(), state.log("deliveries"))


def source_processes(
    catalog: Catalog, state: StateDir, infra: Infra, near_intents_url: str | None
) -> list[ManagedProcess]:
    """The catalog's sources; a NEAR Intents source is pointed at ``near_intents_url``."""
    procs = []
    for src in catalog.sources:
        env = {**infra.env(), **src.env}
        if near_intents_url and NEAR_INTENTS_URL_ENV in src.env:
            env[NEAR_INTENTS_URL_ENV] = near_intents_url
        procs.append(ManagedProcess(src.name, "source", command_argv(src.command), env, state.log(src.name)))
    return procs


def subscription_partitions(catalog: Catalog, functions: Sequence[str]) -> dict[str, int]:
    """Delivery name -> partitions of its topic (to know when lag covers all of them)."""
    from kairos.delivery.wiring import kafka_source_specs

    sinks = {name: "http://unused" for name in functions}
    return {s.name: catalog.topic(s.topic).partitions for s in kafka_source_specs(catalog, sinks)}


def local_secrets(state: StateDir) -> dict[str, str]:
    """Secrets a local run needs and nobody gave: made once, kept in the state folder.

    The exchange key-encryption key must stay the same across runs, or the exchange keys
    stored in Postgres could not be read again; an operator's own value wins.
    """
    path = state.root / "secrets.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name and value:
                values[name] = value
    if "KAIROS_EXCHANGE_KEK" not in values and importlib.util.find_spec("kairos.execution.vault") is not None:
        from kairos.execution.vault import generate_kek

        values["KAIROS_EXCHANGE_KEK"] = generate_kek("local")
        path.write_text("".join(f"{k}={v}\n" for k, v in sorted(values.items())))
        path.chmod(0o600)
    if "KAIROS_API_JWT_SECRET" not in values:  # the operator API's token signing key
        values["KAIROS_API_JWT_SECRET"] = secrets.token_urlsafe(48)
        path.write_text("".join(f"{k}={v}\n" for k, v in sorted(values.items())))
        path.chmod(0o600)
    return {k: v for k, v in values.items() if not os.environ.get(k)}


def dashboard_banner(url: str, database_url: str, state: StateDir) -> str:
    """The dashboard's URL and a first admin login: created (generated password) when the
    database has no user yet, kept in the state folder (mode 0600) to be shown again."""
    import psycopg

    from kairos.api import users

    path = state.root / "admin-login"
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM api_users").fetchone()
        if row is not None and row[0] == 0:
            password = users.generated_password()
            users.add(conn, "admin", password, "admin")
            path.write_text(f"admin {password}\n")
            path.chmod(0o600)
    login = path.read_text().strip() if path.exists() else "(users exist: kairos user add NAME --role admin)"
    return f"kairos dev: dashboard {url}/  first admin login: {login}"
