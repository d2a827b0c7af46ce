"""Load generator and benchmarks for live (``python -m loadtest``, ``make bench``)."""
