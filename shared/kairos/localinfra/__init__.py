"""Embedded infrastructure for a fresh machine: a private Postgres and a Tansu broker.

Used by the test fixtures and by ``kairos dev``; production uses real services given by
``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS``.
"""
