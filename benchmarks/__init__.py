"""Benchmarks: speed, size and accuracy. Run with `python -m benchmarks`."""
