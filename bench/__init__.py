"""Benchmarks: each ``bench/bench_<name>.py`` has a ``main(argv) -> int`` and prints its numbers."""
