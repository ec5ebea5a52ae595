"""Benchmarks (`make bench`): each script prints its figures side by side, measured in one run."""
