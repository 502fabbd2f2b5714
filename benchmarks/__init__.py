"""cutout's benchmarks, run from the repository root as python3 -m benchmarks.NAME (RESULTS.md holds what they measured)."""
