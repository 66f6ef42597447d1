"""The test kit: builders and harnesses shared by ``tests/`` and ``bench/``.

It lives beside ``kairos`` (not under ``tests/``) so that the benchmarks can use the same
in-process systems, simulators and readers as the tests without importing test modules. It is
for development checkouts only: the wheel (and so every function image) leaves it out, and no
module under ``kairos`` may import it.

- ``functions``: a function as a served process or an in-process object, its environment.
- ``topics``: the catalog's topics, and reading a topic back as envelopes.
- ``events``: inbound events as the sources send them (PingSource tick, NEAR Intents quote).
- ``http_sink``: a scripted HTTP sink for delivery tests.
- ``waiting``: waiting for a condition with a deadline.
- ``paths``: the repository root.
- ``venue_sim``: the venue simulator served in a thread, its control client, test symbols.
- ``execution``: a LIVE account with sealed keys, trade commands, readers of order truth.
- ``position_builders``: fills, positions, protection and orders of the positions domain.
- ``protection_system``: the positions system in one process with a test-driven outbox pump.
- ``dev_system``: a real ``kairos dev`` process driven from a test.
- ``manifests``: the generated Knative base manifests.
- ``infra_files``: infra paths, versions.conf, a small kustomize renderer, tool lookup.
"""
