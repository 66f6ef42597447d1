"""Binance USD-M futures (linear perpetuals), traded through ccxt's ``binanceusdm``."""

VENUE = "binanceusdm"
