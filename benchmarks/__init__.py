"""bbopt benchmarks: `python -m benchmarks.run` and figure scripts."""
