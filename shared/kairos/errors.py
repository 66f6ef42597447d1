"""Errors grouped by what the caller must do, not by where they happened.

- :class:`PermanentError`: the input can never succeed. A function answers 4xx with a
  machine-readable reason; the delivery dead-letters it at once.
- :class:`TransientError`: try again later. A function answers 5xx; the delivery retries
  with the catalog's backoff, then dead-letters.
- :class:`FatalError`: the process cannot go on (bad configuration, broken invariant).
  Stop and alert; never acknowledge the input.

Nothing here subclasses ``ValueError``: func-python turns any ``ValueError`` escaping a
handler into a 400, which would dead-letter a transient failure.
"""

from __future__ import annotations


class KairosError(Exception):
    """Base of every Kairos error. ``code`` is stable and machine-readable."""

    code = "error"
    http_status = 500


class PermanentError(KairosError):
    """The input is wrong and will stay wrong: do not retry."""

    code = "permanent"
    http_status = 422


class InvalidEvent(PermanentError):
    """Malformed CloudEvent or a payload that fails its schema.

    ``attribute`` names the CloudEvent attribute at fault when there is one, so a refusal
    can say which (``{"error": {"code", "reason", "attribute"}}``).
    """

    code = "invalid_event"
    http_status = 400

    def __init__(self, reason: str, *, attribute: str | None = None) -> None:
        super().__init__(reason)
        self.attribute = attribute


class MissingAttribute(InvalidEvent):
    """A required CloudEvent attribute is absent (checked before any SDK default fills it)."""

    code = "missing_attribute"


class InvalidAttribute(InvalidEvent):
    """A CloudEvent attribute is present but unusable (bad specversion, time, encoding)."""

    code = "invalid_attribute"


class MalformedEvent(InvalidEvent):
    """The request or record cannot be read as one CloudEvent at all (not JSON, not UTF-8,
    not an object, batch mode, no CloudEvent headers)."""

    code = "malformed_event"


class UnknownEventType(PermanentError):
    code = "unknown_event_type"
    http_status = 400


class UnsupportedSchemaVersion(PermanentError):
    code = "unsupported_schema_version"
    http_status = 400


class UnexpectedEventType(PermanentError):
    """A valid event sent to a function that does not subscribe to its type."""

    code = "unexpected_event_type"
    http_status = 400


class EventTooLarge(PermanentError):
    code = "event_too_large"
    http_status = 413


class Rejected(PermanentError):
    """A well-formed command that business rules refuse (e.g. risk limits)."""

    code = "rejected"
    http_status = 422


class TransientError(KairosError):
    """A dependency is unavailable or busy: retry later."""

    code = "transient"
    http_status = 503


class NotReady(TransientError):
    code = "not_ready"
    http_status = 503


class FatalError(KairosError):
    """The process cannot continue safely."""

    code = "fatal"
    http_status = 500


class ConfigError(FatalError):
    """A missing or invalid environment variable; the message names it."""

    code = "config"
