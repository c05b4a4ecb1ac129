"""Benchmarks: ``python -m benchmarks.<name>`` prints medians, writes results/<name>.json."""
