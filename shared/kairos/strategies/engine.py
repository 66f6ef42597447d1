"""The strategy engine: one closed candle -> every interested RUNNING strategy's decision.

For each RUNNING strategy whose universe holds the candle's (venue, symbol, timeframe), the
engine reads the closed-candle window ending at that candle from Postgres (one read per
candle, shared by every strategy on it), evaluates the rules (``evaluate``), and emits a
``signal.generated`` and a ``cmd.order_intent`` per decision.

Idempotent by (strategy version, symbol, candle open time): a candle not newer than the last
one evaluated for the strategy and symbol is not evaluated again (redelivery, replay, a
revised candle), the decision row's primary key refuses a second decision, and every id is
derived from that key, so even a repeated emission would be deduplicated downstream.

The position a strategy decides from is the positions projection's (``held``), not a memory of
its own intents: a stop-loss, a take-profit, a hand-made close or the venue closing it all show
there. The engine's own record only bridges the time its latest intent is in flight.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg

from kairos.contracts.envelope import Envelope, new_event, stable_id
from kairos.contracts.market_data import Candle
from kairos.contracts.strategies import OrderIntent, SignalGenerated
from kairos.portfolio import ledger
from kairos.strategies import store
from kairos.strategies.evaluate import Evaluation, evaluate, plan
from kairos.strategies.indicators import Candles
from kairos.strategies.language import PercentOfEquity, RiskPerTrade, StrategySpec, decimal_text
from kairos.strategies.sizing import CannotSize, size

log = logging.getLogger(__name__)

SOURCE = "kairos/strategy-engine"


def derived_id(prefix: str, strategy_id: str, version: int, symbol: str, open_time: datetime) -> str:
    """A short id from the decision key (the intent id is also the risk stage's idempotency key)."""
    key = f"{strategy_id}\x1f{version}\x1f{symbol}\x1f{open_time.astimezone(UTC).isoformat()}"
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def read_window(
    conn: psycopg.Connection, venue: str, symbol: str, timeframe: str, until: datetime, bars: int
) -> Candles:
    """The newest ``bars`` closed candles opening at or before ``until`` (latest revisions)."""
    rows = conn.execute(
        "SELECT extract(epoch FROM open_time)::bigint * 1000, open::float8, high::float8, low::float8,"
        " close::float8, volume::float8 FROM ("
        "  SELECT DISTINCT ON (open_time) open_time, open, high, low, close, volume FROM candles"
        "  WHERE venue = %s AND symbol = %s AND timeframe = %s AND open_time <= %s"
        "  ORDER BY open_time DESC, revision DESC LIMIT %s) w ORDER BY open_time",
        (venue, symbol, timeframe, until, bars),
    ).fetchall()
    if not rows:
        empty = np.empty(0)
        return Candles(np.empty(0, dtype=np.int64), empty, empty, empty, empty, empty)
    arr = np.array(rows, dtype=np.float64)
    return Candles(arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5])


@dataclass(frozen=True)
class _State:
    position: str | None
    quantity: Decimal
    last_open_time: datetime | None


def on_candle(conn: psycopg.Connection, candle: Candle, cause: Envelope[Any]) -> list[Envelope[Any]]:
    """The events of one closed candle (the catalog routes them by type); writes the strategies' per-symbol state.

    Also applies the executor's recovery stop first (its strategy.stopped events are returned
    too), so a strategy stopped by recovery never evaluates this candle."""
    out: list[Envelope[Any]] = list(store.apply_recovery_stop(conn))
    strategies = store.running(conn, candle.venue, candle.symbol, candle.timeframe)
    if not strategies:
        return out
    ids = [s[0] for s in strategies]
    conn.execute(
        "INSERT INTO strategy_symbols (strategy_id, symbol) SELECT unnest(%s::text[]), %s ON CONFLICT DO NOTHING",
        (ids, candle.symbol),
    )
    states = {
        r[0]: _State(r[1], Decimal(r[2]), r[3])
        for r in conn.execute(
            "SELECT strategy_id, position, quantity, last_open_time FROM strategy_symbols"
            " WHERE symbol = %s AND strategy_id = ANY(%s) ORDER BY strategy_id FOR UPDATE",
            (candle.symbol, ids),
        ).fetchall()
    }
    todo = [(sid, v, sp) for sid, v, sp in strategies if _newer(states[sid].last_open_time, candle.open_time)]
    if not todo:
        return out
    window = read_window(
        conn, candle.venue, candle.symbol, candle.timeframe, candle.open_time,
        max(plan(sp).window for _, _, sp in todo),
    )
    if len(window) == 0 or window.open_time[-1] != int(candle.open_time.timestamp() * 1000):
        # the candle is not stored (yet): nothing to evaluate on; normalize stores before publishing
        log.warning("candle %s %s %s not in the candles table; not evaluated", candle.symbol, candle.timeframe,
                    candle.open_time.isoformat())
        return out
    truth = held(conn, [(sid, sp.account) for sid, _, sp in todo], candle.venue, candle.symbol, states)
    updates = []
    for strategy_id, version, spec in todo:
        state = truth[strategy_id]
        ev = evaluate(spec, window.tail(plan(spec).window), state.position)  # type: ignore[arg-type]
        position, quantity = state.position, state.quantity
        if ev.decision is not None:
            emitted = _decide(conn, cause, candle, strategy_id, version, spec, ev, state)
            if emitted is not None:
                out.extend(emitted[0])
                position, quantity = emitted[1], emitted[2]
        updates.append((position, quantity, candle.open_time, version, ev.bars, ev.needed, strategy_id, candle.symbol))
    # one statement for every strategy on this candle (not one round trip each)
    cols = list(zip(*updates, strict=True))
    conn.execute(
        "UPDATE strategy_symbols y SET position = u.position, quantity = u.quantity, last_open_time = %s,"
        " version = u.version, bars = u.bars, needed = u.needed, updated_at = now()"
        " FROM unnest(%s::text[], %s::numeric[], %s::int[], %s::int[], %s::int[], %s::text[])"
        " AS u(position, quantity, version, bars, needed, strategy_id)"
        " WHERE y.strategy_id = u.strategy_id AND y.symbol = %s",
        (candle.open_time, list(cols[0]), list(cols[1]), list(cols[3]), list(cols[4]), list(cols[5]), list(cols[6]),
         candle.symbol),
    )
    return out


# Per strategy (one statement for every strategy on the candle): its newest intent for the
# symbol and how far it got, and the open position its orders opened. An intent becomes a
# command through the risk guardian (risk_decisions.command_id); the command's order carries the
# strategy id to the position it opens.
_HELD = """
SELECT s.strategy_id, d.intent_id IS NOT NULL, r.outcome, o.state,
       (SELECT count(*) FROM fills f LEFT JOIN position_fills pf ON pf.account = f.account AND pf.venue = f.venue
          AND pf.venue_trade_id = f.venue_trade_id WHERE f.order_id = o.id AND pf.venue_trade_id IS NULL),
       p.side, p.quantity
  FROM unnest(%(ids)s::text[], %(accounts)s::text[]) AS s(strategy_id, account)
  LEFT JOIN LATERAL (SELECT intent_id FROM strategy_decisions WHERE strategy_id = s.strategy_id
         AND symbol = %(symbol)s AND intent_id IS NOT NULL ORDER BY candle_open_time DESC, created_at DESC LIMIT 1) d
    ON true
  LEFT JOIN risk_decisions r ON r.intent_id = d.intent_id
  LEFT JOIN orders o ON o.command_id = r.command_id
  LEFT JOIN LATERAL (SELECT side, quantity FROM positions WHERE account = s.account AND venue = %(venue)s
         AND symbol = %(symbol)s AND strategy_id = s.strategy_id AND status <> 'CLOSED'
         ORDER BY opened_at DESC LIMIT 1) p ON true
"""
_FINAL = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED"})


def held(
    conn: psycopg.Connection, strategies: list[tuple[str, str]], venue: str, symbol: str, own: dict[str, _State]
) -> dict[str, _State]:
    """Each strategy's position on (its account, venue, symbol): the open position of the
    positions projection whose opening order carried the strategy's id (flat if none), unless
    the strategy's newest intent on the symbol is in flight (no risk decision yet; approved and
    its order not final, or a fill of it not yet folded into positions), when its own record
    (what it asked for) holds. ``strategies``: (strategy id, account)."""
    rows = conn.execute(
        _HELD,
        {"ids": [s[0] for s in strategies], "accounts": [s[1] for s in strategies], "venue": venue, "symbol": symbol},
    ).fetchall()
    out = {}
    for strategy_id, has_intent, outcome, state, unprojected, side, quantity in rows:
        mine = own[strategy_id]
        flying = has_intent and (
            outcome is None or (outcome != "rejected" and (state is None or state not in _FINAL or unprojected > 0))
        )
        if flying:
            out[strategy_id] = mine
        elif side is None or Decimal(quantity) <= 0:
            out[strategy_id] = _State(None, Decimal(0), mine.last_open_time)
        else:
            out[strategy_id] = _State(str(side).lower(), Decimal(quantity), mine.last_open_time)
    return out


def equity(conn: psycopg.Connection, spec: StrategySpec) -> tuple[Decimal | None, str]:
    """The equity percent-of-equity and risk-per-trade sizing read: the account's (balance plus
    unrealized PnL, kairos.portfolio.ledger) once it has a balance, else the document's figure.

    "Has a balance" = the ledger holds the opening balance the reconciler takes from the venue's
    wallet: fees and PnL alone are no capital (a SHADOW account never has a wallet, so it sizes
    from the document)."""
    opened = conn.execute(
        "SELECT 1 FROM portfolio_ledger WHERE account = %s AND kind = 'opening' LIMIT 1", (spec.account,)
    ).fetchone()
    if opened is not None:
        return Decimal(ledger.summary(conn, spec.account)["equity"]), "account"
    return spec.equity, "document"


def _newer(last: datetime | None, open_time: datetime) -> bool:
    return last is None or open_time > last


def _decide(
    conn: psycopg.Connection, cause: Envelope[Any], candle: Candle, strategy_id: str, version: int,
    spec: StrategySpec, ev: Evaluation, state: _State,
) -> tuple[list[Envelope[Any]], str | None, Decimal] | None:
    """The signal and intent of one decision, the position after it; None if already decided."""
    d = ev.decision
    assert d is not None
    price = candle.close
    used: dict[str, Decimal | None] = {}  # the equity sizing read, and where from
    try:
        if d.kind == "exit":
            qty, stop_price, new_qty = state.quantity, None, Decimal(0)
        else:
            figure = None
            if isinstance(spec.sizing, PercentOfEquity | RiskPerTrade):
                figure, source = equity(conn, spec)
                used[f"equity_{source}"] = figure  # the signal says which figure sized it
            sized = size(spec, price, ev.values, d.position_side, equity=figure)
            stop_price, new_qty = sized.stop_price, sized.quantity
            qty = sized.quantity + (state.quantity if d.kind == "reverse" else 0)
    except CannotSize as exc:
        log.warning("strategy %s v%s %s: %s; no intent", strategy_id, version, candle.symbol, exc)
        return None
    signal_id = derived_id("sg", strategy_id, version, candle.symbol, candle.open_time)
    intent_id = derived_id("oi", strategy_id, version, candle.symbol, candle.open_time)
    inserted = conn.execute(
        "INSERT INTO strategy_decisions (strategy_id, version, symbol, candle_open_time, action, signal_id, intent_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (strategy_id, version, candle.symbol, candle.open_time, d.action, signal_id, intent_id if qty > 0 else None),
    ).fetchone()
    if inserted is None:
        return None
    values = {k: decimal_text(v) for k, v in sorted(ev.values.items())}
    signal = SignalGenerated(
        signal_id=signal_id, strategy_id=strategy_id, strategy_version=version, strategy_name=spec.name,
        account=spec.account, venue=candle.venue, symbol=candle.symbol, timeframe=candle.timeframe,
        candle_open_time=candle.open_time, action=d.action, side=d.order_side, rule=d.rule,
        values={**{k: (Decimal(v) if v is not None else None) for k, v in values.items()}, **used},
    )
    events: list[Envelope[Any]] = [_derived(cause, signal, signal_id, f"{strategy_id}|{candle.symbol}")]
    if qty > 0:
        intent = OrderIntent(
            intent_id=intent_id, strategy_id=strategy_id, strategy_version=version, account=spec.account,
            venue=candle.venue, symbol=candle.symbol, side=d.order_side, kind=d.kind, position_side=d.position_side,
            quantity=qty, reduce_only=d.kind == "exit", signal_id=signal_id, timeframe=candle.timeframe,
            candle_open_time=candle.open_time, price_reference=price, stop_price=stop_price,
        )
        events.append(_derived(cause, intent, intent_id, f"{spec.account}|{candle.symbol}"))
    position = None if d.kind == "exit" else d.position_side
    return events, position, new_qty


def _derived(cause: Envelope[Any], data: Any, key_id: str, partition_key: str) -> Envelope[Any]:
    """An event whose id comes from the decision key (not from the candle event's id, which a
    revision or a re-fetch changes), in the candle's correlation chain."""
    return new_event(
        data, source=SOURCE, partition_key=partition_key, event_id=stable_id(SOURCE, key_id),
        observed_at=cause.meta.time, correlation_id=cause.meta.correlation_id, causation_id=cause.meta.id,
    )
