"""Alerts to people: the relay that sends every ``ops.alert`` to a webhook.

:mod:`kairos.alerting.formats` makes the bodies (Telegram Bot API ``sendMessage``, or a
generic JSON document); :mod:`kairos.alerting.relay` decides what to send (severity filter,
duplicates by alert id, rate limit) and sends it with retries.
"""
