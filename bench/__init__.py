"""Benchmarks (bench/README.md): scripts run by `make bench`, and what they share."""
