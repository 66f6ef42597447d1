"""The operator API: HTTP over what the stages store, and commands through their usual paths.

It holds no trading rules: it reads Postgres, writes the rows the system already acts on
(strategy control, accounts, commands in the outbox) and calls the library functions that
own each concept. Authentication, roles, shared rate limits, idempotent writes and the
audit log live here because they are the API's own concern.
"""
