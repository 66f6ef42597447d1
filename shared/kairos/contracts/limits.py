"""Size limits, one set for every hop an event crosses, so no hop refuses what the one
before it accepted.

An event's data may be at most ``MAX_EVENT_BYTES`` (a function answers 413 above it;
``KAIROS_MAX_EVENT_BYTES`` may lower it, never raise it past this). Attributes, headers,
key and Kafka's record framing fit in ``EVENT_OVERHEAD_BYTES``. Every producer
(``max_request_size``), the broker (``message.max.bytes``) and each topic allow
``MAX_RECORD_BYTES``, which is more than an accepted event plus its overhead, so that a
record somebody else produced above the function's limit can still be dead-lettered with
the error extensions added; a record too big even for that is dead-lettered with its data
truncated (``kairostruncated`` says the original size).
"""

from __future__ import annotations

MAX_EVENT_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 64 * 1024
MAX_RECORD_BYTES = 2 * 1_048_576

#: The largest HTTP request body a function reads before answering 413.
MAX_REQUEST_BYTES = MAX_EVENT_BYTES + EVENT_OVERHEAD_BYTES
