"""cutout's tests; tests.support holds what the tests and the benchmarks share."""
