"""Benchmark: MHHI for 10,000 market-periods x 50 firms x 200 owners (a script, not a test).

    .venv/bin/python bench/mhhi_bench.py [--markets 10000] [--firms 50] [--owners 200] [--chunk 1000]

Ownership is random (each firm wholly owned by its 200 owners, heavy-tailed), control both
proportional (gamma = beta) and separate (a random gamma). Markets are processed in chunks so
memory stays bounded; only the MHHI computation is timed, not the random data generation.
Prints wall time, markets per second and peak RSS.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from riskmodels.concentration import mhhi_many


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--markets", type=int, default=10_000)
    p.add_argument("--firms", type=int, default=50)
    p.add_argument("--owners", type=int, default=200)
    p.add_argument("--chunk", type=int, default=1_000)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    results = {}
    for mode in ("proportional", "separate gamma"):
        elapsed, done, checksum = 0.0, 0, 0.0
        while done < a.markets:
            m = min(a.chunk, a.markets - done)
            shares = rng.pareto(1.2, (m, a.firms)) + 0.01
            shares = shares / shares.sum(axis=1, keepdims=True) * 100
            beta = rng.pareto(1.5, (m, a.owners, a.firms))
            beta /= beta.sum(axis=1, keepdims=True)
            gamma = None if mode == "proportional" else rng.random((m, a.owners, a.firms))
            t0 = time.perf_counter()
            out = mhhi_many(shares, beta, gamma)
            elapsed += time.perf_counter() - t0
            checksum += float(out["mhhi"].sum())
            done += m
        results[mode] = {"seconds": round(elapsed, 3), "markets_per_second": round(a.markets / elapsed)}
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"markets": a.markets, "firms": a.firms, "owners": a.owners, "chunk": a.chunk,
                      **results, "peak_rss_mib": round(peak_mib)}, indent=2))


if __name__ == "__main__":
    main()
