"""Epoch AI benchmark: the compute model on a GPU-clusters release far larger than Epoch's.

    python bench/epoch_bench.py                       # the recorded release x 100 (78,600 clusters)
    python bench/epoch_bench.py --copies 10 --out var/bench/epoch.json

Builds a release from the recorded ``gpu_clusters.csv`` repeated ``--copies`` times with owners
drawn from 2,000 names (multi-valued cells kept), first operational dates shifted at random over
2010-2025 and users from the registry's firms, then measures in this process: the by-name read
with typing (``read_release``), installed H100e by owner and by vendor per quarter
(``installed_shares``), the six cluster markets' share rows (``market_shares``), the uncertainty
band (``uncertainty``: three variants x six markets of concentration tables) and the owner -> user
links (``compute_links``); seconds per step (best of ``--repeat``) and the peak resident memory.
"""
from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(copies: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    df = pd.read_csv(ROOT / "data" / "recorded" / "epoch" / "gpu_clusters" / "gpu_clusters.csv", dtype=str,
                     keep_default_na=False)
    big = pd.concat([df] * copies, ignore_index=True)
    n = len(big)
    owners = np.array([f"Owner {i}" for i in range(2000)] + ["Microsoft", "Amazon", "xAI", "Meta AI", "Oracle"])
    pick = rng.choice(owners, n)
    two = rng.random(n) < 0.15
    big["Owner"] = np.where(two, pick + "," + rng.choice(owners, n), pick)
    big["Users"] = rng.choice(["OpenAI #likely", "Anthropic #confident", "Cloud", "", "xAI"], n)
    days = rng.integers(0, 365 * 16, n)
    big["First Operational Date"] = (pd.Timestamp("2010-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")
    big["Name"] = big["Name"] + " #" + pd.Series(np.arange(n)).astype(str)
    buf = io.StringIO()
    big.to_csv(buf, index=False)
    return buf.getvalue().encode()


def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, round(min(times), 3)


def main(argv=None) -> int:
    from riskmodels.config import load_yaml
    from riskmodels.sources.epoch.clusters import installed_shares
    from riskmodels.sources.epoch.links import compute_links
    from riskmodels.sources.epoch.model import market_shares, uncertainty
    from riskmodels.sources.epoch.release import read_release

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--copies", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "var" / "bench" / "epoch.json"))
    args = p.parse_args(argv)
    cfg = load_yaml(ROOT / "config" / "epoch.yaml")
    aliases = pd.read_csv(ROOT / "data" / "entity_aliases.csv", dtype=str, keep_default_na=False)
    raw = build(args.copies)
    rel = {"as_of": "2025-12-17", "sha256": "0" * 64, "url": "https://example.invalid/gpu_clusters.csv"}
    steps = {}
    clusters, steps["read_release"] = best(lambda: read_release(raw, cfg, "gpu_clusters"), args.repeat)
    _, steps["installed_shares_owner"] = best(
        lambda: installed_shares(clusters, "owner", aliases, cfg, pd.Timestamp(rel["as_of"])), args.repeat)
    _, steps["installed_shares_vendor"] = best(
        lambda: installed_shares(clusters, "vendor", aliases, cfg, pd.Timestamp(rel["as_of"])), args.repeat)
    shares, steps["market_shares_6_markets"] = best(lambda: market_shares(clusters, aliases, cfg, rel), args.repeat)
    _, steps["uncertainty_band"] = best(lambda: uncertainty(clusters, aliases, cfg, rel), args.repeat)
    links, steps["compute_links"] = best(
        lambda: compute_links(None, clusters, aliases, cfg, {"gpu_clusters": "0" * 64}), args.repeat)
    out = {"clusters": int(len(clusters)), "bytes": len(raw), "share_rows": int(len(shares)), "links": int(len(links)),
           "seconds": steps, "total_seconds": round(sum(steps.values()), 3),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
