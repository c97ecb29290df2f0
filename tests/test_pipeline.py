"""The pipeline end to end in-process (``riskmodels run``): rows for every market-period,
idempotent reruns on SQLite and PostgreSQL, the failure path, point in time, landing."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, write_sources
from riskmodels import pipeline, storage, store
from riskmodels.dates import known_by
from riskmodels.validate import DataQualityError

D1 = dt.date(2026, 11, 23)
D2 = dt.date(2026, 11, 24)
SCORE_TABLES = list(store.SCORE_TABLES)


def dump(run_date=None) -> dict[str, pd.DataFrame]:
    out = {}
    for name in SCORE_TABLES + ["entities", "markets"]:
        table = store.metadata.tables[name]
        keys = [c.name for c in table.primary_key.columns]
        q = f"SELECT * FROM {name}" + (" WHERE run_date = :d" if run_date and "run_date" in table.c else "")
        df = store.read_sql(q, {"d": run_date} if run_date else None)
        out[name] = df.sort_values(keys).reset_index(drop=True)
    return out


def expected_market_periods(run_date: dt.date) -> set[tuple[str, str]]:
    shares = pd.read_csv(ROOT / "data" / "market_shares.csv", dtype=str)
    shares = shares[known_by(shares, ["source_date", "period"], run_date)]
    out = set(map(tuple, shares[["market_id", "period"]].drop_duplicates().to_numpy()))
    # plus the chip-owner market from compute_ownership.csv (Epoch's estimates as reported)
    own = pd.read_csv(ROOT / "data" / "compute_ownership.csv", dtype=str)
    own = own[known_by(own, ["as_of", "source_date"], run_date) & own["h100e_millions"].notna()
              & (own["metric"] == "cumulative AI compute owned (H100-equivalents)")]
    quarters = pd.PeriodIndex(pd.to_datetime(own["as_of"].str[:7], format="%Y-%m"), freq="Q").astype(str)
    return out | {("compute.epoch-chip-owners.h100e-owner.ww", q) for q in set(quarters)}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_run_publishes_every_market_period_and_reruns_are_idempotent(backend, workspace, request):
    if backend == "postgresql":
        request.getfixturevalue("pg_schema")
    first = pipeline.run(D2)
    assert first["rows"]["concentration"] == len(expected_market_periods(D2)) >= 38
    conc = store.read_sql("SELECT market_id, period FROM concentration WHERE run_date = :d", {"d": D2})
    assert set(map(tuple, conc.to_numpy())) == expected_market_periods(D2)
    before = dump()
    second = pipeline.run(D2)
    assert second["run_id"] != first["run_id"]
    after = dump()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], check_dtype=False, obj=name)
    runs = store.read_sql("SELECT run_id, status, step_seconds, input_hashes FROM pipeline_runs")
    assert len(runs) == 2 and (runs.status == "published").all()
    assert {"ingest", "validate", "score", "publish"} <= set(json.loads(runs.step_seconds[0]))
    # views work on this backend
    latest = store.read_sql("SELECT * FROM v_latest_concentration")
    assert latest.market_id.is_unique and len(latest) == latest.market_id.nunique() > 10
    change = store.read_sql("SELECT * FROM v_concentration_change WHERE market_id = 'cloud.synergy.ww' "
                            "AND period = '2022Q2'")
    assert change.previous_period.item() == "2022Q1" and change.hhi_change.item() == pytest.approx(1719 - 1673)


def test_every_score_traces_to_its_source_rows_and_bytes(workspace):
    pipeline.run(D2)
    conc = store.read_sql("SELECT * FROM concentration WHERE market_id = 'cloud.synergy.ww' AND period = '2025Q4'")
    assert conc.hhi.item() == 1421 and conc.zone.item() == "moderately concentrated"
    refs = conc.source_refs.item().split(";")
    ref_rows = [int(r.split("#")[1]) for r in refs]
    facts = store.read_sql("SELECT * FROM market_share_facts WHERE market_id = 'cloud.synergy.ww' "
                           "AND period = '2025Q4' AND run_date = :d", {"d": D2})
    assert sorted(facts.ref_row) == sorted(ref_rows) and facts.source_url.notna().all()
    raw = store.read_sql("SELECT * FROM raw_inputs WHERE dataset = 'market_shares'")
    landed = storage.from_url(raw.landing_path.item()).read_bytes()
    assert hashlib.sha256(landed).hexdigest() == conc.input_sha256.item() == raw.sha256.item()
    assert landed == (ROOT / "data" / "market_shares.csv").read_bytes()


def test_failed_run_leaves_published_scores_intact(workspace, tmp_path, monkeypatch):
    pipeline.run(D1)
    published = dump()
    bad = tmp_path / "ms.csv"
    df = pd.read_csv(ROOT / "data" / "market_shares.csv", dtype=str, keep_default_na=False)
    df.loc[0, "share_pct"] = "-5"
    df.to_csv(bad, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"market_shares": str(bad)})))
    for day in (D2, D1):  # a new date and a rerun of the published date
        with pytest.raises(DataQualityError, match="share_pct"):
            pipeline.run(day)
    after = dump()
    for name in published:
        pd.testing.assert_frame_equal(published[name], after[name], check_dtype=False, obj=name)
    assert store.read_sql("SELECT COUNT(*) AS n FROM concentration WHERE run_date = :d", {"d": D2}).n.item() == 0
    statuses = store.read_sql("SELECT run_date, status FROM pipeline_runs ORDER BY updated_at").status.tolist()
    assert statuses == ["published", "failed_validation", "failed_validation"]


def test_point_in_time_backfill_has_no_look_ahead(workspace):
    as_of = dt.date(2024, 6, 30)
    pipeline.run(as_of)
    conc = store.read_sql("SELECT market_id, period FROM concentration WHERE run_date = :d", {"d": as_of})
    periods = set(conc[conc.market_id == "cloud.synergy.ww"].period)
    assert "2024Q1" in periods          # source dated 2024-04
    assert "2024Q2" not in periods      # published 2024-08, after the run date
    assert set(map(tuple, conc.to_numpy())) == expected_market_periods(as_of)
    inv = store.read_sql("SELECT date FROM investment_facts WHERE run_date = :d", {"d": as_of})
    assert inv.date.max() <= "2024-06" and len(inv) > 5
    facts = store.read_sql("SELECT source_date FROM market_share_facts WHERE run_date = :d", {"d": as_of})
    assert (facts.source_date.dropna() <= "2024-06-30").all()


def test_landing_is_content_addressed_and_immutable(workspace):
    ref = pipeline.ingest("markets", D2)
    path = storage.local_path(storage.from_url(ref["path"]))
    assert path == workspace / "landing" / "blobs" / ref["sha256"][:2] / f"{ref['sha256']}.csv"
    again = pipeline.ingest("markets", D1)              # another date, the same bytes: one stored copy
    assert again["path"] == ref["path"] and len(list((workspace / "landing").rglob("*.csv"))) == 1
    used = store.read_sql("SELECT run_date, sha256, landing_path FROM raw_inputs WHERE dataset = 'markets'")
    assert len(used) == 2 and used.landing_path.nunique() == 1   # each date records the blob it used
    path.write_text("tampered")
    with pytest.raises(Exception, match="altered"):
        pipeline.ingest("markets", D2)


def test_disk_stays_bounded_staging_is_removed_and_orphans_cleaned(workspace):
    import time

    pipeline.run(D1)
    size = storage.size_bytes(storage.path("landing"))
    pipeline.run(D2)                                    # nothing changed in the inputs
    assert storage.size_bytes(storage.path("landing")) == size
    assert not list((workspace / "staging").rglob("*.parquet")), "a published run leaves no staged files"
    # no pickles anywhere; the memo's records (riskmodels.memo), one per distinct input set
    assert not list(workspace.rglob("*.pkl"))
    pickles = list((workspace / "memo").rglob("*.memo"))
    assert pickles and len({p.parent.name for p in pickles}) == len(pickles), "unchanged inputs wrote one record per kind"
    # what a killed run leaves behind: a staging folder, a half-written file, an unreferenced blob
    orphan = workspace / "staging" / "2026-11-20" / "killed-run"
    orphan.mkdir(parents=True)
    (orphan / "concentration.parquet").write_bytes(b"x" * 100)
    part = workspace / "landing" / "blobs" / "ab" / "abc.csv.123.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"y" * 10)
    blob = workspace / "landing" / "blobs" / "ab" / ("ab" + "0" * 62 + ".csv")
    blob.write_bytes(b"z" * 7)
    fresh = storage.cleanup()                           # younger than the configured age: kept
    assert orphan.exists() and part.exists() and blob.exists(), fresh
    later = storage.cleanup(now=time.time() + 25 * 3600)
    assert not orphan.exists() and not part.exists() and not blob.exists()
    assert later["staging"]["removed"] == 1 and later["partial"]["removed"] == 1
    assert later["orphan_blobs"] == {"removed": 1, "bytes": 7}
    assert storage.size_bytes(storage.path("landing")) == size   # referenced blobs stay
    assert later["memo"]["removed"] == 0 and all(p.exists() for p in pickles)   # kept for memo.keep_days
    week = storage.cleanup(now=time.time() + 8 * 86400)
    assert week["memo"]["removed"] == len(pickles) and not any(p.exists() for p in pickles)


def test_cli_run_and_show(workspace):
    env = {**os.environ}
    exe = [sys.executable, "-m", "riskmodels.cli"]
    out = subprocess.run(exe + ["run", "--date", "2026-11"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert '"run_date": "2026-11-30"' in out.stdout
    shown = subprocess.run(exe + ["show", "concentration", "--layer", "cloud"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0 and "cloud.synergy.ww" in shown.stdout and "accel." not in shown.stdout
    bad = subprocess.run(exe + ["run", "--date", "2026-13-01"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "not a date" in bad.stderr
    ddl = subprocess.run(exe + ["schema", "--dialect", "postgresql"], env=env, capture_output=True, text=True)
    assert "CREATE TABLE concentration" in ddl.stdout and "CREATE TABLE alert_outbox" in ddl.stdout
