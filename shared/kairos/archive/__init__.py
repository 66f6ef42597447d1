"""The event archive: every raw, normalized, execution, position and signal event, kept in S3-compatible
object storage as gzip JSON Lines (Spark/DuckDB-readable), with a manifest in Postgres, and
replayed from there (or from a topic) into an isolated copy of the pipeline. docs/ARCHIVE.md."""
