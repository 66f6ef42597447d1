"""Binance USD-M's venue package without a venue: its error mapping, definition and registry.

The adapter's behaviour against a real HTTP venue is tested in ``tests/execution`` (LIVE
against the simulator); these tests pin what the package states as data.
"""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
from ccxt.base import errors as cx
from kairos.errors import Rejected
from kairos.execution import client_ids
from kairos.execution.service import ServiceSettings
from kairos.venues import registry
from kairos.venues.binance_usdm import VENUE, errors
from kairos.venues.binance_usdm.client import RECEIVE_WINDOW_MS, make_client
from kairos.venues.binance_usdm.definition import DEFINITION
from kairos.venues.binance_usdm.markets import MARKETS
from kairos.venues.binance_usdm.symbols import native_symbol, unified_symbol
from kairos.venues.port import (
    DuplicateClientId,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    VenueUnavailable,
)


def _binance(exc_class: type[Exception], code: int) -> Exception:
    return exc_class(f'binanceusdm {{"code":{code},"msg":"as the venue says"}}')


def ccxt_exception_for(code: int) -> Exception:
    """The exception ccxt itself raises for Binance's ``code`` (from its own futures table)."""
    table = ccxt.binanceusdm().exceptions
    cls = table["linear"]["exact"].get(str(code)) or table["exact"][str(code)]
    return _binance(cls, code)


def test_a_duplicate_client_id_is_not_a_rejection() -> None:
    out = errors.translate(_binance(cx.InvalidOrder, -4116), write=True, what="create x")
    assert isinstance(out, DuplicateClientId)
    assert out.venue_code == errors.DUPLICATE_CLIENT_ID


def test_a_reduce_only_rejection_keeps_the_code_in_its_reason() -> None:
    """position-sync tells a -2022 from other rejections by the reason text."""
    out = errors.translate(_binance(cx.InvalidOrder, -2022), write=True, what="create x")
    assert type(out) is OrderRejected
    assert out.venue_code == errors.REDUCE_ONLY_REJECTED and "-2022" in out.reason


def test_a_failed_write_may_have_been_executed_a_failed_read_is_no_answer() -> None:
    assert isinstance(errors.translate(cx.NetworkError("reset"), write=True, what="w"), OutcomeUnknown)
    assert isinstance(errors.translate(cx.ExchangeError("502"), write=True, what="w"), OutcomeUnknown)
    assert isinstance(errors.translate(TimeoutError(), write=True, what="w"), OutcomeUnknown)
    read = errors.translate(cx.NetworkError("reset"), write=False, what="r")
    assert isinstance(read, VenueUnavailable) and not isinstance(read, OutcomeUnknown)


def test_execution_status_unknown_codes_are_unknown_outcomes() -> None:
    """-1006/-1001/-1008 arrive as ccxt's OperationFailed, which is neither a NetworkError nor an
    ExchangeError: untranslated, it would escape the adapter as a ccxt exception."""
    for code in (-1006, -1001, -1008, -1007):
        exc = ccxt_exception_for(code)
        assert isinstance(errors.translate(exc, write=True, what="w"), OutcomeUnknown), code
        read = errors.translate(exc, write=False, what="r")
        assert isinstance(read, VenueUnavailable) and not isinstance(read, OutcomeUnknown), code


def test_unknown_orders_bad_requests_and_auth_failures() -> None:
    assert isinstance(errors.translate(cx.OrderNotFound("gone"), write=False, what="r"), OrderNotFound)
    assert type(errors.translate(_binance(cx.BadSymbol, -1121), write=True, what="w")) is OrderRejected
    assert type(errors.translate(cx.InsufficientFunds("poor"), write=True, what="w")) is OrderRejected
    auth = errors.translate(cx.AuthenticationError("bad key"), write=True, what="w")
    assert isinstance(auth, VenueUnavailable) and not isinstance(auth, OutcomeUnknown)
    assert errors.translate(ValueError("ours"), write=True, what="w") is None


def test_the_registry_serves_the_package_and_names_the_known_venues() -> None:
    assert registry.definition(VENUE) is DEFINITION
    with pytest.raises(registry.UnknownVenue, match="binanceusdm"):
        registry.definition("bybit")


def test_our_client_ids_fit_every_trading_venue() -> None:
    """A venue with shorter client ids needs its own id scheme (docs/VENUES.md)."""
    cid = client_ids.client_order_id("any-command")
    for venue in registry.TRADING_VENUES.values():
        assert len(cid) <= venue.capabilities.client_id_max_length, venue.name


def test_markets_are_found_by_unified_and_native_symbol() -> None:
    spec = DEFINITION.market("BTC/USDT:USDT")
    assert spec is not None and spec.symbol == "BTCUSDT" and spec.step_size == Decimal("0.001")
    assert DEFINITION.market("BTCUSDT") is spec
    assert DEFINITION.market("DOGE/USDT:USDT") is None


def test_symbol_names_map_both_ways_and_odd_names_are_rejected() -> None:
    for spec in MARKETS:
        unified = unified_symbol(spec.symbol)
        assert unified == f"{spec.base}/{spec.quote}:{spec.quote}"
        assert native_symbol(unified) == spec.symbol
        assert native_symbol(spec.symbol) == spec.symbol  # a native name passes through
    assert unified_symbol("ETHUSDC") == "ETH/USDC:USDC"
    for odd in ("BTCEUR", "USDT", ""):
        with pytest.raises(Rejected, match="not a USDT- or USDC-margined perpetual"):
            unified_symbol(odd)


def test_requests_are_signed_with_a_receive_window_the_resend_grace_outlasts() -> None:
    """The executor re-sends an unanswered order once the venue says it does not know it and
    ``resend_grace_s`` has passed: safe only if the first request can no longer be executed by
    then. ccxt's own default window is 10 s, longer than the 6 s grace."""
    for base_url in (None, "http://127.0.0.1:9"):
        for async_ in (False, True):
            assert make_client(base_url, "k", "s", async_=async_).options["recvWindow"] == RECEIVE_WINDOW_MS
    assert ServiceSettings().resend_grace_s * 1000 > RECEIVE_WINDOW_MS
