"""Benchmark of the core loop against a naive one-call-per-object baseline (``make bench``; not a test)."""
