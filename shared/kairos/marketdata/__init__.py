"""Market data: candles and tickers from the venues, their validation, storage and tools."""
