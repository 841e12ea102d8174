"""Benchmarks that measure edgeface on real data: accuracy, speed and liveness."""
