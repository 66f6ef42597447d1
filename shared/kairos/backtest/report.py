"""Pictures and reports of a stored backtest: a PNG chart and a self-contained HTML file.

The chart (matplotlib, Agg: no display needed) shows equity above and drawdown below, with
every trade's exit marked on the equity curve (green: a gain, red: a loss). The HTML report
embeds that PNG as base64 and holds the metrics, the parameters and the trades as tables: no
script, no stylesheet or font from anywhere else, so it opens offline and can be mailed.
"""

from __future__ import annotations

import base64
import bisect
import html
import io
import json
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")  # the backend is chosen before pyplot loads: no display needed
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

PERCENT = {"total_return", "cagr", "max_drawdown", "win_rate", "exposure"}
ORDER = (
    "initial_balance", "final_equity", "net_pnl", "total_return", "cagr", "max_drawdown", "max_drawdown_duration_ms",
    "sharpe", "sortino", "win_rate", "profit_factor", "exposure", "trades", "average_trade", "fees_paid",
    "funding_paid",
)  # fmt: skip


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def duration(ms: int) -> str:
    days, rest = divmod(int(ms) // 1000, 86_400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h {rest // 60}m" if days else f"{hours}h {rest // 60}m"


def metric_text(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name == "max_drawdown_duration_ms":
        return duration(int(value))
    if name in PERCENT:
        return f"{float(value) * 100:.2f} %"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


def png(result: dict[str, Any], title: str) -> bytes:
    """Equity and drawdown with the trades marked, as PNG bytes (deterministic content)."""
    eq = result["equity"]
    times = [_time(t) for t in eq["time"]]
    equity = [float(x) for x in eq["equity"]]
    dd = [float(x) * 100 for x in eq["drawdown"]]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, height_ratios=(3, 1))
    top.plot(times, equity, color="#1f4e79", linewidth=1.1, label="equity")
    trades = result["trades"]
    if trades and times:
        index = {t: i for i, t in enumerate(eq["time"])}
        wins_x: list[datetime] = []
        loss_x: list[datetime] = []
        wins_y: list[float] = []
        loss_y: list[float] = []
        for t in trades:
            when = _time(t["exit_time"])
            # the equity point at or before the exit (the curve is downsampled)
            i = index.get(t["exit_time"])
            if i is None:
                i = max(0, bisect.bisect_right(times, when) - 1)
            (wins_x if float(t["pnl"]) > 0 else loss_x).append(when)
            (wins_y if float(t["pnl"]) > 0 else loss_y).append(equity[i])
        top.scatter(wins_x, wins_y, marker="^", s=14, color="#2e7d32", label="trade exit, gain", zorder=3)
        top.scatter(loss_x, loss_y, marker="v", s=14, color="#c62828", label="trade exit, loss", zorder=3)
    top.set_title(title)
    top.set_ylabel("equity")
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    bottom.fill_between(times, dd, 0, color="#c62828", alpha=0.35, linewidth=0)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d\n%H:%M"))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def html_report(run: dict[str, Any], max_trades: int = 2000) -> str:
    """One self-contained HTML page: chart (inline base64 PNG), metrics, parameters, trades."""
    title = f"Backtest {run['run_id']}: {run['strategy_id']} v{run['version']}"
    image = base64.b64encode(png(run, title)).decode()
    esc = html.escape
    metrics = run["metrics"] or {}
    rows = "".join(f"<tr><th>{esc(k.replace('_', ' '))}</th><td>{esc(metric_text(k, metrics.get(k)))}</td></tr>"
                   for k in ORDER if k in metrics)  # fmt: skip
    req = run["request"]
    params = "".join(f"<tr><th>{esc(k)}</th><td>{esc(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
                     for k, v in sorted(req.items()))  # fmt: skip
    cols = (
        "symbol",
        "side",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "quantity",
        "fees",
        "pnl",
        "reason",
    )
    trades = run["trades"] or []
    body = "".join("<tr>" + "".join(f"<td>{esc(str(t[c]))}</td>" for c in cols) + "</tr>" for t in trades[:max_trades])
    more = (
        f"<p>{len(trades) - max_trades} more trades not shown (kairos backtest show --trades).</p>"
        if len(trades) > max_trades
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #f2f2f2; text-align: left; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>Data version <code>{esc(run["data_version"])}</code> ({run["candles"]} candles); result hash
<code>{esc(run["result_hash"] or "")}</code>; status {esc(run["status"])}.</p>
<img alt="equity and drawdown" src="data:image/png;base64,{image}">
<h2>Metrics</h2><table>{rows}</table>
<h2>Parameters</h2><table>{params}</table>
<h2>Trades ({len(trades)})</h2>
<table><tr>{"".join(f"<th>{c}</th>" for c in cols)}</tr>{body}</table>{more}
</body></html>
"""
