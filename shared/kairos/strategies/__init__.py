"""Rule-based strategies: the document language, indicators, evaluation over candle windows,
their storage and lifecycle in Postgres, and the engine that turns closed candles into
signals and order intents."""
