"""Helpers for the repository's own scripts (benchmarks, screenshots); not part of the portal."""
