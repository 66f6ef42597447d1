"""api (HTTP, no subscriptions): the operator API and dashboard.

Operators and the dashboard call it over HTTP; it reads what the stages store and steers
trading through the paths they already use (strategy control rows, sealed accounts, a
reconciler tick), with JWT roles, shared rate limits, idempotent writes and an audit log
(``kairos.api``).
"""

from __future__ import annotations

from kairos.api.function import ApiFunction


def new() -> ApiFunction:
    return ApiFunction("api")
