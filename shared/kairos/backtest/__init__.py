"""Backtests: a strategy's own rule evaluation and sizing over stored candles, a documented
fill model in place of the venue, metrics, stored runs and reports (docs/BACKTEST.md)."""
