"""Benchmarks: each script measures against a baseline taken in the same run and prints the
ratio (machines are noisy; absolute timings from different runs are not comparable)."""
