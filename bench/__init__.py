"""Benchmarks: `make bench` (scripts/run_bench.py) runs them; docs/benchmarks.md explains them."""
