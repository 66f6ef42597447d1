"""The backtest function (func-python layout: `new()` lives in func.py)."""

from .func import new

__all__ = ["new"]
