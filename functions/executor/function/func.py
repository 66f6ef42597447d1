"""executor: trade, cancel and amend commands -> orders at a venue, exactly once per command id.

A trade for the paper venue (NEAR Intents) is filled on paper and its result stored once per
command id; every other command goes to the execution service of its LIVE or SHADOW account,
which commits the order before it calls the venue and the outcome after, so a redelivery
finds the order and asks the venue before it would ever send again (docs/EXECUTION.md).

The function starts RECOVERING (readiness 503, deliveries 503) until recovery reconciled
every order a previous process left in flight with the venue.
"""

from __future__ import annotations

from kairos.execution.executor import Executor
from kairos.runtime import KairosFunction


class ExecutorFunction(KairosFunction):
    """The runtime's function object plus the executor's lifecycle (service, recovery)."""

    def __init__(self) -> None:
        self.executor = Executor()
        super().__init__(
            "executor",
            self.executor.handle,
            on_ready=lambda fn: self.executor.start(fn.env, fn.name, fn.publish_rows),
            readiness=self.executor.readiness,
        )

    def stop(self) -> None:
        self.executor.stop_recovery()
        super().stop()
        self.executor.close()


def new() -> KairosFunction:
    return ExecutorFunction()
