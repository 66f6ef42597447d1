"""Every reason the risk guardian rejects an order intent with (``risk.rejected.reason_code``).

Hard failures (something the decision needs is unknown or too old) and limits. Only entries
and increases are ever rejected: an intent that reduces a position is approved as it is.
"""

from __future__ import annotations

# hard failures: the guardian cannot decide safely
ACCOUNT_UNKNOWN = "ACCOUNT_UNKNOWN"  # no LIVE/SHADOW account of that name
PRICE_UNKNOWN = "PRICE_UNKNOWN"  # no mark price for a symbol the decision needs
PRICE_STALE = "PRICE_STALE"  # the symbol's mark is older than the configured age
EXECUTOR_STATE_UNKNOWN = "EXECUTOR_STATE_UNKNOWN"  # no executor has reported its recovery state
EXECUTOR_RECOVERING = "EXECUTOR_RECOVERING"  # an executor is RECOVERING
CLOCK_DRIFT = "CLOCK_DRIFT"  # the clock guard blocks entries on the account
STRATEGY_STOPPED = "STRATEGY_STOPPED"  # strategy_control stops all strategies or this one
QUANTITY_BELOW_LOT = "QUANTITY_BELOW_LOT"  # rounded down to the market's step, below its minimum quantity
# switches and limits
KILL_SWITCH = "KILL_SWITCH"
MAX_ORDER_QUANTITY = "MAX_ORDER_QUANTITY"
MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
MAX_SYMBOL_EXPOSURE = "MAX_SYMBOL_EXPOSURE"
MAX_TOTAL_EXPOSURE = "MAX_TOTAL_EXPOSURE"
MAX_OPEN_POSITIONS = "MAX_OPEN_POSITIONS"
MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
MAX_ORDERS_PER_MINUTE = "MAX_ORDERS_PER_MINUTE"

#: limit name (``risk_limits.limit_name``) -> the code its breach rejects with
LIMIT_CODES = {
    "max_order_quantity": MAX_ORDER_QUANTITY,
    "max_order_notional": MAX_ORDER_NOTIONAL,
    "max_symbol_exposure": MAX_SYMBOL_EXPOSURE,
    "max_total_exposure": MAX_TOTAL_EXPOSURE,
    "max_open_positions": MAX_OPEN_POSITIONS,
    "max_daily_loss": MAX_DAILY_LOSS,
    "max_orders_per_minute": MAX_ORDERS_PER_MINUTE,
}
LIMIT_NAMES = tuple(LIMIT_CODES)
