"""Benchmark the whole pipeline on synthetic worlds of growing scale (a script, not a test).

    .venv/bin/python bench/pipeline_bench.py [--scales 1 10 100 1000] [--pg URL | --no-pg]

Each scale runs in two processes of its own. The first runs the daily pipeline as
``riskmodels run`` does (ingest, validation in the configured mode, scoring, publish on SQLite;
its peak RSS is the pipeline's), then the same publish on PostgreSQL (a scratch schema on --pg,
default the local test server; skipped with a note when unreachable). The second times each
scoring stage on its own (concentration, ownership/MHHI, lock-in, loop detection, antitrust)
and GX on every row next to the same checks in pandas on the same frames. Writes
var/bench/results.json and var/bench/results.md (seconds and rows per second per stage, peak
RSS, the growth factor between consecutive scales).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
D = dt.date(2026, 11, 24)


STAGE_INPUTS = {  # which datasets each stage reads (for rows per second)
    "generate": None, "ingest": None, "validate": None, "validate_gx_full": None, "validate_pandas_full": None,
    "concentration": ["market_shares"],
    "ownership_mhhi": ["market_shares", "stake_rights", "institutional_holders"],
    "lockin": ["compute_commitments", "investments", "stake_rights"],
    "loops": ["investments", "compute_commitments"],
    "antitrust": ["investments", "market_shares", "compute_commitments", "stake_rights", "regulatory_events"],
    "score": None,
}


def _pg_schema(url: str, scale: int):
    """A scratch schema on the PostgreSQL server at ``url`` (None if unreachable)."""
    import sqlalchemy as sa

    name = f"bench_{scale}_{os.getpid()}"
    try:
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:  # noqa: BLE001 - reported in the results, the bench goes on
        return None, None, str(exc).splitlines()[0]
    return admin, name, None


def _env(work: Path, part: str) -> None:
    os.environ.update({"RISKMODELS_VAR": str(work / part / "var"),
                       "RISKMODELS_DB_URL": f"sqlite:///{work / part / 'risk.db'}",
                       "RISKMODELS_SOURCES": str(work / "world" / "sources.yaml"), "RISKMODELS_HOME": str(ROOT)})


def _peak() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def pipeline_part(scale: int, pg: str | None, work: Path) -> dict:
    """The daily pipeline exactly as ``riskmodels run`` does it (ingest, validate, score, publish
    on SQLite), then the same publish on PostgreSQL; peak RSS is the pipeline's own."""
    _env(work, "pipeline")
    from riskmodels import pipeline
    from riskmodels.synth import write

    t = {}
    clock = time.perf_counter
    s0 = clock()
    summary = write(work / "world", scale)
    t["generate"] = clock() - s0
    s0 = clock()
    refs = [pipeline.ingest(n, D) for n in pipeline.datasets()]
    t["ingest"] = clock() - s0
    s0 = clock()
    validation = pipeline.validate(refs, D)          # the pipeline's own mode (GX full, or pandas + GX sample)
    t["validate"] = clock() - s0
    s0 = clock()
    staged = pipeline.score(refs, D, "bench")
    t["score"] = clock() - s0
    # publishing removes its stage: keep a copy for the PostgreSQL publish of the same scores
    again = pipeline.stage_frames(pipeline.staged_frames(staged), D, "bench-pg") if pg else None
    s0 = clock()
    pipeline.publish(staged, refs, D, "bench")
    t["store_sqlite"] = clock() - s0
    peak = _peak()
    pg_error = None
    if pg:
        admin, schema, pg_error = _pg_schema(pg, scale)
        if schema:
            os.environ["RISKMODELS_DB_URL"] = f"{pg}?options=-csearch_path%3D{schema}"
            try:
                s0 = clock()
                pipeline.publish(again, refs, D, "bench")
                t["store_postgresql"] = clock() - s0
            finally:
                import sqlalchemy as sa

                from riskmodels import store

                store._engine(os.environ["RISKMODELS_DB_URL"]).dispose()
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    return {"summary": summary, "seconds": t, "output_rows": sum(staged["rows"].values()),
            "validation_modes": {k: v.get("mode") for k, v in validation["datasets"].items()},
            "peak_rss_mib": peak, "peak_rss_mib_with_postgresql": _peak(), "postgresql_error": pg_error}


def stages_part(scale: int, work: Path) -> dict:
    """Each scoring stage on its own, and GX on every row next to the same checks in pandas on
    the same prepared frames (the comparison the pipeline's validation mode is chosen by)."""
    _env(work, "stages")
    import yaml

    from riskmodels import pipeline
    from riskmodels.checks import run_checks
    from riskmodels.config import get_settings, load_yaml
    from riskmodels.ingest import read_landed
    from riskmodels.validate import load_suite_dict, prepare_frame, registry_flags

    t = {}
    clock = time.perf_counter
    refs = [pipeline.ingest(n, D) for n in pipeline.datasets()]
    full_cfg = work / "validation-full.yaml"
    full_cfg.write_text(yaml.safe_dump({**load_yaml(ROOT / "config" / "validation.yaml"), "gx_full_max_rows": 10**12}))
    os.environ["RISKMODELS_VALIDATION"] = str(full_cfg)
    pipeline.validate(refs, D)                        # warm-up: GX context and suite registration
    # the measured run validates again: forget the outcomes the warm-up recorded (in this
    # process and under the storage root), or GX would not run at all
    from riskmodels import validate as validate_mod

    validate_mod._MEMO.clear()
    shutil.rmtree(work / "stages" / "var" / "gx" / "memo", ignore_errors=True)
    s0 = clock()
    pipeline.validate(refs, D)
    t["validate_gx_full"] = clock() - s0
    del os.environ["RISKMODELS_VALIDATION"]
    s0 = clock()
    frames_raw = {r["dataset"]: read_landed(r) for r in refs}
    params = {"entity_ids": sorted(frames_raw["entities"]["entity_id"].dropna().unique()),
              "market_ids": sorted(frames_raw["markets"]["market_id"].dropna().unique())}
    for r in refs:
        doc = load_suite_dict(r["suite"])
        frame = registry_flags(prepare_frame(frames_raw[r["dataset"]], doc.get("meta", {})), doc.get("meta", {}), params)
        run_checks(frame, doc, params)
    t["validate_pandas_full"] = clock() - s0
    del frames_raw
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
    loops = round_trips(money_graph(frames["investments"], frames["compute_commitments"], frames["entities"], risk_cfg,
                                    loops_only=True))
    t["loops"] = clock() - s0
    s0 = clock()
    antitrust_scores({"investments": frames["investments"], "shares": frames["market_shares"], "contributions": contrib,
                      "commitments": frames["compute_commitments"], "stakes": frames["stake_rights"], "lockin": lk,
                      "loops": loops, "events": frames["regulatory_events"]}, frames["entities"], risk_cfg)
    t["antitrust"] = clock() - s0
    return {"seconds": t, "loops_found": int(len(loops)), "peak_rss_mib": _peak()}


def combine(scale: int, p: dict, st: dict) -> dict:
    rows = p["summary"]["rows"]
    # rounded once, here: the published totals are sums of the published per-stage figures
    t = {k: round(v, 3) for k, v in {**p["seconds"], **st["seconds"]}.items()}
    out_rows = p["output_rows"]
    per_stage_rows = {k: (sum(rows[d] for d in v) if v else sum(rows.values())) for k, v in STAGE_INPUTS.items()}
    per_stage_rows.update(score=sum(rows.values()), store_sqlite=out_rows, store_postgresql=out_rows)
    e2e = round(sum(t[k] for k in ("ingest", "validate", "score", "store_sqlite")), 3)
    # the floor (issue 19): the work no pipeline can skip - read the inputs, check every row with
    # the vectorised pandas checks, write the outputs to SQLite - measured in the same bench run
    floor = round(t["ingest"] + t["validate_pandas_full"] + t["store_sqlite"], 3)
    return {"scale": scale, "rows": rows, "input_rows": sum(rows.values()), "output_rows": out_rows,
            "planted_loops": p["summary"]["planted_loops"], "loops_found": st["loops_found"],
            "validation_modes": p["validation_modes"], "seconds": t,
            "rows_per_second": {k: round(per_stage_rows[k] / v) if v > 0 else None for k, v in t.items()},
            "end_to_end_seconds": e2e, "floor_seconds": floor,
            "floor_ratio": round(e2e / floor, 2) if floor > 0 else None,
            "gx_over_pandas": round(t["validate_gx_full"] / t["validate_pandas_full"], 1),
            "pipeline_validate_over_pandas": round(t["validate"] / t["validate_pandas_full"], 1),
            "postgresql_error": p["postgresql_error"], "peak_rss_mib": p["peak_rss_mib"],
            "peak_rss_mib_with_postgresql": p["peak_rss_mib_with_postgresql"],
            "peak_rss_mib_stage_breakdown": st["peak_rss_mib"]}


def _child(args: list[str], timeout: int) -> dict:
    out = subprocess.run([sys.executable, __file__] + args, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100, 1000])
    p.add_argument("--pg", default=os.environ.get("RISKMODELS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                   help="PostgreSQL server for the store stage (a scratch schema is created and dropped)")
    p.add_argument("--no-pg", dest="pg", action="store_const", const=None, help="skip the PostgreSQL store stage")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--part", choices=["pipeline", "stages"], help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=int, default=1800, help="seconds per scale")
    p.add_argument("--out", default=str(ROOT / "var" / "bench"), help="directory for results.json and results.md")
    a = p.parse_args()
    if a.one is not None:
        work = Path(a.work)
        res = pipeline_part(a.one, a.pg, work) if a.part == "pipeline" else stages_part(a.one, work)
        print(json.dumps(res))
        return
    results = []
    for scale in a.scales:
        work = Path(tempfile.mkdtemp(prefix=f"bench-{scale}-"))
        base = ["--one", str(scale), "--work", str(work)]
        try:
            p = _child(base + ["--part", "pipeline"] + (["--pg", a.pg] if a.pg else ["--no-pg"]), a.timeout)
            st = _child(base + ["--part", "stages", "--no-pg"], a.timeout)
        except subprocess.TimeoutExpired:
            results.append({"scale": scale, "error": f"over {a.timeout}s"})
            print(f"scale {scale}: over {a.timeout}s", flush=True)
            break
        except RuntimeError as exc:
            results.append({"scale": scale, "error": str(exc)})
            print(f"scale {scale} failed:\n{exc}", flush=True)
            break
        finally:
            shutil.rmtree(work, ignore_errors=True)
        res = combine(scale, p, st)
        results.append(res)
        print(f"scale {scale}: {res['end_to_end_seconds']}s end to end, peak {res['peak_rss_mib']} MiB", flush=True)
    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    ok = [r for r in results if "seconds" in r]
    stages = list(dict.fromkeys(k for r in ok for k in r["seconds"]))
    head = " | ".join(f"scale {r['scale']}" for r in ok)
    lines = ["Seconds per stage (rows per second in brackets) and the growth factor between consecutive",
             "scales (each scale has 10x the rows of the one before; > 12x is flagged !).", "",
             "| stage | " + head + " | growth per 10x |", "|---|" + "---|" * len(ok) + "---|"]
    for st in stages:
        vals = [r["seconds"].get(st) for r in ok]
        cells = [f"{v:.2f} ({r['rows_per_second'].get(st) or 0:,}/s)" if v is not None else "-" for v, r in zip(vals, ok)]
        growth = ", ".join(f"{b / a:.1f}x" + (" !" if b / a > 12 else "") for a, b in zip(vals, vals[1:])
                           if a and b is not None)
        lines.append(f"| {st} | " + " | ".join(cells) + f" | {growth} |")
    lines.append("| **end to end** (ingest + validate + score + SQLite store, one process) | " + " | ".join(
        f"**{r['end_to_end_seconds']:.1f}**" for r in ok) + " | " + ", ".join(
        f"{b['end_to_end_seconds'] / a['end_to_end_seconds']:.1f}x" for a, b in zip(ok, ok[1:])) + " |")
    lines.append("| input rows | " + " | ".join(f"{r['input_rows']:,}" for r in ok) + " | |")
    lines.append("| output rows | " + " | ".join(f"{r['output_rows']:,}" for r in ok) + " | |")
    lines.append("| GX full / pandas full | " + " | ".join(f"{r['gx_over_pandas']}x" for r in ok) + " | |")
    lines.append("| pipeline validate / pandas full | " + " | ".join(f"{r['pipeline_validate_over_pandas']}x"
                                                                    for r in ok) + " | |")
    lines.append("| floor (ingest + pandas checks on every row + SQLite store) | " + " | ".join(
        f"{r['floor_seconds']:.1f}" for r in ok) + " | |")
    lines.append("| **floor ratio** (end to end / floor; target at scale 1,000: <= 2) | " + " | ".join(
        f"**{r['floor_ratio']:.2f}**" for r in ok) + " | |")
    lines.append("| peak RSS of the pipeline (MiB) | " + " | ".join(str(r["peak_rss_mib"]) for r in ok) + " | |")
    lines.append("| peak RSS of the stage breakdown + GX full (MiB) | " + " | ".join(
        str(r["peak_rss_mib_stage_breakdown"]) for r in ok) + " | |")
    lines.append("| loops found (planted) | " + " | ".join(f"{r['loops_found']} ({r['planted_loops']})" for r in ok)
                 + " | |")
    for r in results:
        if "error" in r:
            lines.append(f"\nscale {r['scale']}: {r['error'][:500]}")
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
