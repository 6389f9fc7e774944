"""Benchmark scripts that print measurements; run each from the repository root as `python -m bench.NAME`."""
