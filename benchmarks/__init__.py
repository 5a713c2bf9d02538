"""Benchmark scripts (not imported by the engine); figures in docs/performance.md."""
