"""Benchmarks: scripts that print tables. Speed targets live here, never in tests."""
