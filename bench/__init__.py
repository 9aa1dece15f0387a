"""Benchmarks of pyqueue: micro benchmarks of the core beside a plain-Python reference."""
