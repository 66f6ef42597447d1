"""The positions integration: the positions projection, position-sync's adapters, the scheduler
and the SLO monitor, wired to Postgres and the execution service's contracts.

The rules live in ``kairos.positions`` (pure); this package only loads, calls and persists:
``config`` (environment), ``store`` (SQL), ``projection`` (exec.fill -> positions),
``sync`` (the LIVE/SHADOW adapters and one sync), ``scheduling`` and ``monitor`` (crons).
"""
