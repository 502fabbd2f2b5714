"""Support shared by the tests and the benchmarks: metrics, synthetic videos, the binding helpers, the generator of test models."""
