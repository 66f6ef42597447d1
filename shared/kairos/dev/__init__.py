"""The local platform: ``kairos dev`` (``make run``) and the operator commands around it.

``kairos dev`` runs the whole system the way Knative would, on one machine: embedded
Postgres and Tansu, one ``kairos serve`` process per function, the catalog's sources
and one ``kairos deliver`` process for every subscription and cron. It writes
``.state/run.json`` so that ``kairos status``, ``kairos invoke`` and ``kairos dlq`` find
the running system without being told where anything listens.
"""
