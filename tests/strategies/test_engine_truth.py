"""The engine decides from what is true, not from what it asked for: the position is the
positions projection's once the strategy's latest intent has settled (here: refused by the
risk guardian, so nothing was ever opened), and percent-of-equity sizing reads the account's
equity from the portfolio once the account has a balance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import psycopg
from kairos.portfolio import ledger
from kairos.risk import guardian
from kairos_testkit.strategies import (
    BTC,
    SHADOW,
    candle_events,
    create_and_start,
    example,
    feed,
    migrated,
    of_type,
    with_doc,
)
from kairos_testkit.venue_sim import VenueSimHandle


def test_an_entry_the_risk_guardian_refused_leaves_the_strategy_flat(db: str, sim: VenueSimHandle) -> None:
    spec = with_doc(example("sma-crossover"), account=SHADOW, universe={"venue": "binanceusdm", "symbols": [BTC],
                                                                        "timeframe": "1m"})  # fmt: skip
    create_and_start(db, spec)
    candles = candle_events(db, sim)
    out: list[Any] = []
    i = 0
    while not of_type(out, "cmd.order_intent"):
        out = feed(db, [candles[i]])
        i += 1
    first = of_type(out, "cmd.order_intent")[0]
    assert first.kind == "entry"
    with psycopg.connect(db) as conn:  # no executor health reported: the guardian refuses
        decision = guardian.Guardian().decide(conn, first)
        conn.commit()
    assert not decision.approved
    second = of_type(feed(db, candles[i:]), "cmd.order_intent")[0]
    # the refused position never existed: the next cross opens the other side, it reverses nothing
    assert second.position_side != first.position_side and second.kind == "entry"
    assert second.quantity == (Decimal(200) / second.price_reference).quantize(Decimal("0.000001"), ROUND_DOWN)


def _first_entry(db: str, sim: VenueSimHandle) -> tuple[Any, Any]:
    out = feed(db, candle_events(db, sim))
    return of_type(out, "signal.generated")[0], of_type(out, "cmd.order_intent")[0]


def test_percent_of_equity_sizes_from_the_accounts_equity_once_it_has_a_balance(
    db: str, sim: VenueSimHandle, new_database: Callable[[str], str]
) -> None:
    spec = with_doc(example("rsi-mean-reversion"), account=SHADOW)  # 2 % of equity, the document says 10,000
    create_and_start(db, spec)
    signal, intent = _first_entry(db, sim)
    assert signal.values["equity_document"] == Decimal(10000) and "equity_account" not in signal.values
    assert intent.quantity == (Decimal(200) / intent.price_reference).quantize(Decimal("0.000001"), ROUND_DOWN)

    funded = migrated(new_database("equity"))
    with psycopg.connect(funded) as conn:  # the opening balance the reconciler records from the wallet
        ledger.record_opening(conn, SHADOW, "binanceusdm", "USDT", Decimal(5000), datetime.now(UTC))
        conn.commit()
    create_and_start(funded, spec)
    signal, intent = _first_entry(funded, sim)
    assert signal.values["equity_account"] == Decimal(5000) and "equity_document" not in signal.values
    assert intent.quantity == (Decimal(100) / intent.price_reference).quantize(Decimal("0.000001"), ROUND_DOWN)
