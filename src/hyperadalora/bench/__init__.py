"""Benchmarks: step time / memory, convergence comparisons, plots and reports."""
