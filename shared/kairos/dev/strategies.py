"""``make run``'s strategies: the example strategies running in SHADOW on the simulator.

A SHADOW account ``dev-shadow`` (no keys: its orders are filled locally from the simulator's
prices, never sent) is registered, and every document under ``strategies/`` (or the
directory ``KAIROS_DEV_STRATEGIES`` names; empty: none) is stored as a version and started,
unless it already runs. Their signals appear in the live view (``lines``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import psycopg

from kairos.runtime.loader import REPO_ROOT
from kairos.runtime.recorder import append_outbox
from kairos.strategies import store
from kairos.strategies.language import StrategyInvalid, parse_text

log = logging.getLogger(__name__)

SHADOW_ACCOUNT = "dev-shadow"
WHO = "kairos dev"


def start_examples(database_url: str, venue_base_url: str, env: dict[str, str] | None = None) -> list[str]:
    """Register the SHADOW account, create and start the example strategies; their names.

    A document that does not validate is skipped with its problems logged (make run goes on)."""
    env = dict(os.environ) if env is None else env
    folder = env.get("KAIROS_DEV_STRATEGIES", str(REPO_ROOT / "strategies"))
    if not folder:
        return []
    started: list[str] = []
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO exec_accounts (account, venue, mode, base_url) VALUES (%s, 'binanceusdm', 'shadow', %s)"
            " ON CONFLICT (account) DO NOTHING",
            (SHADOW_ACCOUNT, venue_base_url),
        )
        conn.commit()
        for path in sorted(Path(folder).glob("*.y*ml")):
            try:
                spec = parse_text(path.read_text())
            except StrategyInvalid as exc:
                log.warning("example strategy not started", extra={"file": str(path), "problems": str(exc)})
                continue
            with conn.transaction():
                version, _ = store.create(conn, spec, WHO)
                row = store.rows(conn, spec.name)[0]
                if row.state != "RUNNING":
                    append_outbox(conn, WHO, [(store.TOPIC, store.start(conn, spec.name, version, WHO))])
            started.append(spec.name)
    return started


def lines(conn: psycopg.Connection, signals: int = 6) -> list[str]:
    """The latest signals and each running strategy's warm-up, for the live view."""
    out = []
    rows = conn.execute(
        "SELECT d.created_at, d.strategy_id, d.version, d.symbol, d.action, d.candle_open_time"
        " FROM strategy_decisions d ORDER BY d.created_at DESC LIMIT %s",
        (signals,),
    ).fetchall()
    for at, strategy, version, symbol, action, candle in reversed(rows):
        out.append(f"signal {at:%H:%M:%S} {strategy} v{version} {symbol} {action} (candle {candle:%H:%M})")
    warming = conn.execute(
        "SELECT y.strategy_id, min(y.bars), max(y.needed) FROM strategy_symbols y JOIN strategies s USING (strategy_id)"
        " WHERE s.state = 'RUNNING' AND y.bars < y.needed GROUP BY y.strategy_id ORDER BY y.strategy_id"
    ).fetchall()
    for strategy, bars, needed in warming:
        out.append(f"strategy {strategy} warming up: {bars}/{needed} candles")
    return out
