"""Benchmark: profit weights kappa for a common-ownership panel at 13F scale (a script, not a test).

    .venv/bin/python bench/ownership_bench.py [--quarters 152] [--firms 500] [--owners 500 4000]
        [--density 0.15 0.35] [--methods ours dense bcs] [--repeat 3]

The panel has the size of the Backus-Conlon-Sinkinson common-ownership study: 152 quarters x 500
firms, owners per quarter rising from 500 to 4,000 and density from 15% to 35% (about 47 million
holder x firm x quarter rows; the first 20 owners, index funds, hold every firm). It is written
once as long rows (quarter int16, owner int32, firm int16, beta float64: .npy files in the work
directory, in quarter order as per-quarter 13F files arrive). Each method then runs in a process
of its own, reads the rows from disk and writes kappa (quarters x firms x firms, float64) to a
.npy file; the seconds reported are compute + store, not the read; peak RSS is that process's.

Methods: ``ours`` = :func:`riskmodels.common_ownership.kappa_panel` (the project's code path);
``dense`` = a plain per-quarter dense numpy version (a boolean mask per quarter, np.unique owners,
a fresh dense matrix, one product); ``bcs`` = the BCS replication's pipeline pattern (pandas
group-apply per quarter, a dense pivot, one BLAS product). Every method's kappa is compared with
``ours`` (max absolute difference). Results: var/bench/ownership.json and a table on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
INDEX_FUNDS = 20


def generate(work: Path, quarters: int, firms: int, owners: tuple[int, int], density: tuple[float, float],
             seed: int) -> dict:
    """Write the panel's long rows to ``work`` (preallocated arrays: no concatenated copies)."""
    rng = np.random.default_rng(seed)
    n_own = np.linspace(owners[0], owners[1], quarters).round().astype(int)
    dens = np.linspace(density[0], density[1], quarters)
    expect = INDEX_FUNDS * firms + (n_own - INDEX_FUNDS) * firms * dens
    cap = int((expect + 8 * np.sqrt(expect) + 1).sum())
    q = np.lib.format.open_memmap(work / "quarter.npy", "w+", np.int16, (cap,))
    o = np.lib.format.open_memmap(work / "owner.npy", "w+", np.int32, (cap,))
    f = np.lib.format.open_memmap(work / "firm.npy", "w+", np.int16, (cap,))
    b = np.lib.format.open_memmap(work / "beta.npy", "w+", np.float64, (cap,))
    at = 0
    for t in range(quarters):
        mask = rng.random((n_own[t], firms)) < dens[t]
        mask[:INDEX_FUNDS] = True
        oo, ff = np.nonzero(mask)
        k = oo.size
        q[at:at + k], o[at:at + k], f[at:at + k] = t, oo, ff
        # index funds hold 0.5-2% each, others up to 2 / owners: a firm's column stays below 1
        b[at:at + k] = np.where(oo < INDEX_FUNDS, rng.uniform(0.005, 0.02, k), rng.random(k) * 1.0 / n_own[t])
        at += k
    for a in (q, o, f, b):
        a.flush()
    del q, o, f, b
    for name in ("quarter", "owner", "firm", "beta"):   # trim to the rows written
        a = np.load(work / f"{name}.npy", mmap_mode="r")[:at]
        np.save(work / f"{name}.tmp.npy", a)
        del a
        os.replace(work / f"{name}.tmp.npy", work / f"{name}.npy")
    return {"rows": at, "quarters": quarters, "firms": firms, "owners": list(owners), "density": list(density)}


def _read(work: Path):
    return tuple(np.load(work / f"{n}.npy") for n in ("quarter", "owner", "firm", "beta"))


def run_ours(work: Path, out: Path) -> float:
    from riskmodels.common_ownership import kappa_panel

    q, o, f, b = _read(work)
    t0 = time.perf_counter()
    nq, nf = int(q.max()) + 1, int(f.max()) + 1
    kap = np.lib.format.open_memmap(out, "w+", np.float64, (nq, nf, nf))
    kappa_panel(q, o, f, b, out=kap)
    kap.flush()
    return time.perf_counter() - t0


def run_dense(work: Path, out: Path) -> float:
    q, o, f, b = _read(work)
    t0 = time.perf_counter()
    nq, nf = int(q.max()) + 1, int(f.max()) + 1
    kap = np.lib.format.open_memmap(out, "w+", np.float64, (nq, nf, nf))
    for t in range(nq):
        m = q == t
        uo, local = np.unique(o[m], return_inverse=True)
        B = np.zeros((uo.size, nf))
        B[local, f[m]] = b[m]
        K = B.T @ B
        kap[t] = K / np.diagonal(K)[:, None]
    kap.flush()
    return time.perf_counter() - t0


def run_bcs(work: Path, out: Path) -> float:
    import pandas as pd

    q, o, f, b = _read(work)
    df = pd.DataFrame({"quarter": q, "owner": o, "firm": f, "beta": b})
    del q, o, f, b
    t0 = time.perf_counter()
    nf = int(df["firm"].max()) + 1

    def kappa_of(d: pd.DataFrame) -> np.ndarray:
        B = d.pivot_table(index="owner", columns="firm", values="beta", aggfunc="sum", fill_value=0.0)
        B = B.reindex(columns=range(nf), fill_value=0.0).to_numpy()
        K = B.T @ B
        return K / np.diagonal(K)[:, None]

    res = df.groupby("quarter").apply(kappa_of)
    np.save(out, np.stack(res.to_list()))
    return time.perf_counter() - t0


METHODS = {"ours": run_ours, "dense": run_dense, "bcs": run_bcs}


def _child(method: str, work: Path, out: Path, timeout: int) -> dict:
    code = (f"import json, resource, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import ownership_bench as ob; "
            f"from pathlib import Path; s = ob.METHODS[{method!r}](Path({str(work)!r}), Path({str(out)!r})); "
            "print(json.dumps({'seconds': s, 'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quarters", type=int, default=152)
    p.add_argument("--firms", type=int, default=500)
    p.add_argument("--owners", type=int, nargs=2, default=[500, 4000])
    p.add_argument("--density", type=float, nargs=2, default=[0.15, 0.35])
    p.add_argument("--methods", nargs="+", default=["ours", "dense", "bcs"], choices=list(METHODS))
    p.add_argument("--repeat", type=int, default=3, help="runs per method (the best and the median are reported)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=int, default=1800)
    p.add_argument("--work", help="directory for the panel and kappa files (default: a temporary one, removed)")
    p.add_argument("--out", default=str(ROOT / "var" / "bench" / "ownership.json"))
    a = p.parse_args()
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="ownership-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        panel = generate(work, a.quarters, a.firms, tuple(a.owners), tuple(a.density), a.seed)
        panel["generate_seconds"] = round(time.perf_counter() - t0, 2)
        print(f"panel: {panel['rows']:,} rows ({panel['generate_seconds']} s to write)", flush=True)
        results = {}
        methods = ["ours"] + [m for m in a.methods if m != "ours"]
        for m in methods:
            runs = [_child(m, work, work / f"kappa-{m}.npy", a.timeout) for _ in range(a.repeat)]
            secs = sorted(r["seconds"] for r in runs)
            results[m] = {"seconds_best": round(secs[0], 2), "seconds_median": round(float(np.median(secs)), 2),
                          "seconds_all": [round(s, 2) for s in secs],
                          "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs))}
            if m != "ours":
                ref = np.load(work / "kappa-ours.npy", mmap_mode="r")
                got = np.load(work / f"kappa-{m}.npy", mmap_mode="r")
                results[m]["max_abs_diff_vs_ours"] = float(max(np.abs(ref[t] - got[t]).max() for t in range(len(ref))))
            print(f"{m}: best {results[m]['seconds_best']} s, median {results[m]['seconds_median']} s, "
                  f"peak {results[m]['peak_rss_mib']} MiB", flush=True)
        out = {"panel": panel, "load_average": os.getloadavg(), "cpus": os.cpu_count(), "methods": results}
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=2))
        print("| method | best s | median s | peak RSS MiB | max abs diff vs ours |\n|---|---|---|---|---|")
        for m, r in results.items():
            print(f"| {m} | {r['seconds_best']} | {r['seconds_median']} | {r['peak_rss_mib']} | "
                  f"{r.get('max_abs_diff_vs_ours', 0.0):.1e} |")
        print(f"self time: {resource.getrusage(resource.RUSAGE_SELF).ru_utime:.0f} s user")
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
