"""Kafka I/O: thin wrappers over kafka-python. Encoding lives in ``kairos.contracts.codec``."""
