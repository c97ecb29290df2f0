"""Disk used per day by the pipeline's working files (landing, staging, Data Docs, reports), and
by the risk store, over consecutive days with unchanged inputs.

    python bench/disk_bench.py --world snapshot --days 3
    python bench/disk_bench.py --world 100 --days 3                  # synthetic world, scale 100
    python bench/disk_bench.py --world 100 --checkout ../old-main    # the same for another checkout

Each day runs ``riskmodels.pipeline.run`` in a fresh process of the chosen checkout (its code
first on PYTHONPATH), then sizes every top-level folder of the working directory. The synthetic
world is generated once by this checkout, so two checkouts are measured on the same files.
Prints a table and writes JSON (``--out``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sizes(var: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in var.rglob("*"):
        if p.is_file():
            rel = p.relative_to(var).parts
            key = "store (SQLite)" if rel[0].startswith("riskmodels.db") else rel[0]
            out[key] = out.get(key, 0) + p.stat().st_size
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="snapshot", help="snapshot, or a synthetic scale (e.g. 100)")
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--start", default="2026-11-20")
    ap.add_argument("--checkout", default=str(ROOT), help="the riskmodels checkout to measure")
    ap.add_argument("--out", help="JSON results file")
    args = ap.parse_args(argv)
    checkout = Path(args.checkout).resolve()
    work = Path(tempfile.mkdtemp(prefix="riskmodels-disk-"))
    env = {**os.environ, "RISKMODELS_HOME": str(checkout), "RISKMODELS_VAR": str(work / "var"),
           "PYTHONPATH": str(checkout), "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"}
    env.pop("RISKMODELS_DB_URL", None)
    env.pop("RISKMODELS_STORAGE_URL", None)
    if args.world != "snapshot":
        world = work / "world"
        subprocess.run([sys.executable, "-m", "riskmodels.cli", "synth", "--scale", args.world, "--seed", "0",
                        "--out", str(world)], check=True, capture_output=True, env={**env, "PYTHONPATH": str(ROOT)})
        env["RISKMODELS_SOURCES"] = str(world / "sources.yaml")
    else:
        env.pop("RISKMODELS_SOURCES", None)
    rows, before = [], {}
    day0 = dt.date.fromisoformat(args.start)
    for i in range(args.days):
        d = day0 + dt.timedelta(days=i)
        code = f"import datetime as dt; from riskmodels import pipeline; pipeline.run(dt.date.fromisoformat('{d}'))"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=work)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        now = sizes(work / "var")
        rows.append({"day": d.isoformat(), "total": now,
                     "growth": {k: now.get(k, 0) - before.get(k, 0) for k in sorted(set(now) | set(before))}})
        before = now
    keys = sorted({k for r in rows for k in r["total"]})
    print(f"world {args.world}, checkout {checkout}: bytes added per day (day 1 includes the first landing)")
    print("| day | " + " | ".join(keys) + " | files excl. store |")
    print("|---|" + "---|" * (len(keys) + 1))
    for r in rows:
        files = sum(v for k, v in r["growth"].items() if k != "store (SQLite)")
        print(f"| {r['day']} | " + " | ".join(f"{r['growth'].get(k, 0):,}" for k in keys) + f" | {files:,} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"world": args.world, "checkout": str(checkout), "days": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
