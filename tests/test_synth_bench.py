"""The synthetic world passes the shipped GX suites, and the benchmark runs at scale 1 (a smoke
check; the benchmark is a script, timed there, never here)."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from conftest import ROOT
from riskmodels import pipeline, store
from riskmodels.synth import generate, write


def test_world_shapes():
    data, summary = generate(scale=2, seed=3)
    shares = data["market_shares"]
    totals = shares.groupby(["market_id", "period"])["share_pct"].sum()
    assert (totals <= 100).all() and summary["market_periods"] == 4 * 40 == len(totals)
    top = shares.sort_values("share_pct", ascending=False).groupby(["market_id", "period"]).head(1)
    assert top["share_pct"].median() > 2 * shares["share_pct"].median()          # a few dominant firms
    assert summary["rows"]["investments"] == 200 and summary["rows"]["compute_commitments"] == 100


def test_world_runs_through_the_pipeline(workspace, tmp_path, monkeypatch):
    summary = write(tmp_path / "world", scale=1, seed=1)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(tmp_path / "world" / "sources.yaml"))
    result = pipeline.run(dt.date(2026, 11, 24))                                   # GX suites pass
    # the world's market-periods plus the chip-owner market's two snapshots (compute_ownership)
    assert result["rows"]["concentration"] == summary["market_periods"] + 2
    loops = store.read_sql("SELECT * FROM circular_flows")
    assert len(loops) >= summary["planted_loops"]


def test_benchmark_smoke_at_scale_1(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "pipeline_bench.py"), "--scales", "1",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads((tmp_path / "results.json").read_text())
    assert res[0]["scale"] == 1 and {"ingest", "validate", "validate_gx_full", "validate_pandas_full", "score",
                                     "ownership_mhhi", "loops", "store_sqlite"} <= set(res[0]["seconds"])
    assert res[0]["peak_rss_mib"] > 0 and res[0]["end_to_end_seconds"] > 0
    # the floor ratio (issue 19): end to end over ingest + pandas checks on every row + SQLite store
    floor = res[0]["seconds"]["ingest"] + res[0]["seconds"]["validate_pandas_full"] + res[0]["seconds"]["store_sqlite"]
    assert res[0]["floor_seconds"] == round(floor, 3) and res[0]["floor_ratio"] >= 1
    e2e = sum(res[0]["seconds"][k] for k in ("ingest", "validate", "score", "store_sqlite"))
    assert res[0]["end_to_end_seconds"] == round(e2e, 3)   # published totals add up from the published stages
    assert "**floor ratio**" in (tmp_path / "results.md").read_text()
    assert res[0]["postgresql_error"] is None and "store_postgresql" in res[0]["seconds"]   # COPY path timed
    assert res[0]["loops_found"] >= res[0]["planted_loops"]
    assert "| peak RSS of the pipeline (MiB) |" in (tmp_path / "results.md").read_text()


def test_synth_cli_writes_a_world(tmp_path):
    exe = [sys.executable, "-m", "riskmodels.cli", "synth", "--scale", "2", "--seed", "7", "--out", str(tmp_path / "w")]
    out = subprocess.run(exe, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["scale"] == 2 and summary["seed"] == 7 and summary["planted_loops"] >= 2
    for name, rows in summary["rows"].items():
        assert (tmp_path / "w" / f"{name}.csv").exists() and rows > 0
    assert (tmp_path / "w" / "sources.yaml").exists()
    again = subprocess.run(exe[:-1] + [str(tmp_path / "w2")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert again.returncode == 0
    assert (tmp_path / "w" / "investments.csv").read_bytes() == (tmp_path / "w2" / "investments.csv").read_bytes()
    bad = subprocess.run(exe[:5] + ["0", "--out", str(tmp_path / "x")], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "--scale" in bad.stderr
