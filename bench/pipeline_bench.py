"""Benchmark the whole pipeline on synthetic worlds of growing scale (a script, not a test).

    .venv/bin/python bench/pipeline_bench.py [--scales 1 10 100 1000] [--pg URL]

Each scale runs in its own process (peak RSS is per scale): generate the world, then time
ingest, GX validation (and the same checks written directly in pandas), concentration,
ownership/MHHI, lock-in, loop detection, antitrust scores, and the store writes on SQLite and,
with --pg, PostgreSQL. Writes var/bench/results.json and var/bench/results.md (per-stage seconds,
rows per second, peak RSS and the growth factor between consecutive scales).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
D = dt.date(2026, 11, 24)


def pandas_checks(frame, doc: dict) -> int:
    """The suite's common expectations written directly in pandas; returns failed checks."""
    import pandas as pd

    failed = 0
    for e in doc["expectations"]:
        kw, t = e["kwargs"], e["type"]
        col = kw.get("column")
        if t == "expect_column_to_exist":
            failed += col not in frame.columns
        elif col is not None and col not in frame.columns:
            continue
        elif t == "expect_column_values_to_not_be_null":
            failed += bool(frame[col].isna().any())
        elif t == "expect_column_values_to_be_null":
            failed += bool(frame[col].notna().any())
        elif t == "expect_column_values_to_be_between":
            v = pd.to_numeric(frame[col], errors="coerce")
            lo, hi = kw.get("min_value"), kw.get("max_value")
            failed += bool(((lo is not None) & (v < (lo if lo is not None else 0))).any()
                           or ((hi is not None) & (v > (hi if hi is not None else 0))).any())
        elif t == "expect_column_values_to_be_in_set" and isinstance(kw["value_set"], list):
            failed += bool((~frame[col].dropna().isin(kw["value_set"])).any())
        elif t == "expect_column_values_to_be_unique":
            failed += bool(frame[col].dropna().duplicated().any())
        elif t == "expect_compound_columns_to_be_unique":
            failed += bool(frame[kw["column_list"]].duplicated().any())
        elif t == "expect_column_values_to_match_regex":
            failed += bool((~frame[col].dropna().astype(str).str.contains(kw["regex"])).any())
    return failed


def one_scale(scale: int, pg: str | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-{scale}-"))
    os.environ.update({"RISKMODELS_VAR": str(work / "var"), "RISKMODELS_DB_URL": f"sqlite:///{work / 'risk.db'}",
                       "RISKMODELS_SOURCES": str(work / "world" / "sources.yaml"), "RISKMODELS_HOME": str(ROOT)})
    from riskmodels import pipeline, store
    from riskmodels.config import get_settings, load_yaml
    from riskmodels.synth import write
    from riskmodels.validate import load_suite_dict, prepare_frame
    from riskmodels.ingest import read_landed

    t = {}
    clock = time.perf_counter
    s0 = clock()
    summary = write(work / "world", scale)
    t["generate"] = clock() - s0
    s0 = clock()
    refs = [pipeline.ingest(n, D) for n in pipeline.datasets()]
    t["ingest"] = clock() - s0
    s0 = clock()
    pipeline.validate(refs, D)
    t["validate_gx"] = clock() - s0
    s0 = clock()
    for r in refs:
        doc = load_suite_dict(r["suite"])
        pandas_checks(prepare_frame(read_landed(r), doc.get("meta", {})), doc)
    t["validate_pandas"] = clock() - s0
    settings = get_settings()
    from riskmodels.pipeline import _point_in_time, _typed

    frames = {r["dataset"]: _point_in_time(_typed(r, settings), r, D) for r in refs}
    from riskmodels.antitrust import antitrust_scores
    from riskmodels.circular import money_graph, round_trips
    from riskmodels.concentration import concentration_table
    from riskmodels.lockin import lockin_scores
    from riskmodels.ownership import ownership_scores

    risk_cfg = load_yaml(ROOT / "config" / "risk.yaml")
    s0 = clock()
    concentration_table(frames["market_shares"])
    t["concentration"] = clock() - s0
    s0 = clock()
    _, _, _, contrib = ownership_scores(frames["market_shares"], frames["stake_rights"], frames["institutional_holders"],
                                        frames["entities"], D, load_yaml(ROOT / "config" / "ownership.yaml"))
    t["ownership_mhhi"] = clock() - s0
    s0 = clock()
    lk = lockin_scores(frames["compute_commitments"], frames["investments"], frames["stake_rights"], frames["entities"], risk_cfg)
    t["lockin"] = clock() - s0
    s0 = clock()
    loops = round_trips(money_graph(frames["investments"], frames["compute_commitments"], frames["entities"], risk_cfg))
    t["loops"] = clock() - s0
    s0 = clock()
    antitrust_scores({"investments": frames["investments"], "shares": frames["market_shares"], "contributions": contrib,
                      "commitments": frames["compute_commitments"], "stakes": frames["stake_rights"], "lockin": lk,
                      "loops": loops, "events": frames["regulatory_events"]}, frames["entities"], risk_cfg)
    t["antitrust"] = clock() - s0
    s0 = clock()
    staged = pipeline.score(refs, D, "bench")
    t["score_total"] = clock() - s0
    s0 = clock()
    pipeline.publish(staged, refs, D, "bench")
    t["store_sqlite"] = clock() - s0
    if pg:
        os.environ["RISKMODELS_DB_URL"] = pg
        s0 = clock()
        pipeline.publish(staged, refs, D, "bench")
        t["store_postgresql"] = clock() - s0
    rows = sum(summary["rows"].values())
    return {"scale": scale, "rows": summary["rows"], "input_rows": rows, "planted_loops": summary["planted_loops"],
            "loops_found": int(len(loops)), "seconds": {k: round(v, 3) for k, v in t.items()},
            "end_to_end_seconds": round(sum(v for k, v in t.items() if k not in ("generate", "validate_pandas",
                                                                              "concentration", "ownership_mhhi", "lockin",
                                                                              "loops", "antitrust")), 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100, 1000])
    p.add_argument("--pg", default=None, help="PostgreSQL URL for the store stage (with ?options=-csearch_path=...)")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=int, default=1800, help="seconds per scale")
    a = p.parse_args()
    if a.one is not None:
        print(json.dumps(one_scale(a.one, a.pg)))
        return
    results = []
    for scale in a.scales:
        cmd = [sys.executable, __file__, "--one", str(scale)] + (["--pg", a.pg] if a.pg else [])
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
        except subprocess.TimeoutExpired:
            results.append({"scale": scale, "error": f"over {a.timeout}s"})
            print(f"scale {scale}: over {a.timeout}s", flush=True)
            break
        if out.returncode != 0:
            results.append({"scale": scale, "error": out.stderr[-2000:]})
            print(f"scale {scale} failed:\n{out.stderr[-2000:]}", flush=True)
            break
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"scale {scale}: {res['end_to_end_seconds']}s end to end, peak {res['peak_rss_mib']} MiB", flush=True)
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    ok = [r for r in results if "seconds" in r]
    stages = list(ok[0]["seconds"]) if ok else []
    lines = ["| stage | " + " | ".join(f"scale {r['scale']} (s)" for r in ok) + " | growth per 10x |",
             "|---|" + "---|" * len(ok) + "---|"]
    for st in stages:
        vals = [r["seconds"][st] for r in ok]
        growth = ", ".join(f"{b / a:.1f}x" for a, b in zip(vals, vals[1:]) if a > 0)
        lines.append(f"| {st} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {growth} |")
    lines.append("| input rows | " + " | ".join(str(r["input_rows"]) for r in ok) + " | |")
    lines.append("| rows per second (end to end) | " + " | ".join(f"{r['input_rows'] / r['end_to_end_seconds']:.0f}"
                                                              for r in ok) + " | |")
    lines.append("| peak RSS (MiB) | " + " | ".join(str(r["peak_rss_mib"]) for r in ok) + " | |")
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
