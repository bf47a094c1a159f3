"""Benchmarks: throughput of `prepare` against the reference stack (`python -m bench.throughput`)."""
