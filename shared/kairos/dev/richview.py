"""The terminal screen of ``kairos dev`` (rich ``Live``), refreshed by the runner's loop."""

from __future__ import annotations

from rich.console import Console
from rich.live import Live

from kairos.dev.view import Snapshot, render_rich


class RichView:
    """Redraws on each snapshot; messages are printed above the live area."""

    def __init__(self) -> None:
        self.console = Console()
        self.live = Live(console=self.console, auto_refresh=False, transient=False)
        self.live.start()

    def message(self, text: str) -> None:
        self.live.console.print(text)

    def show(self, snap: Snapshot) -> None:
        self.live.update(render_rich(snap), refresh=True)

    def close(self) -> None:
        try:
            self.live.stop()
        except OSError:
            pass  # the terminal is gone
