"""Local delivery with Knative's semantics: KafkaSource per subscription, PingSource per cron.

In production Knative delivers; locally and in tests this package must behave the same
way, because idempotency, ordering and dead-lettering all depend on delivery semantics.
"""
