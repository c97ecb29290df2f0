"""CSV exports cannot run formulas in a spreadsheet (OWASP CSV injection); Parquet keeps values."""
from __future__ import annotations

import csv
import datetime as dt

import pandas as pd

from conftest import ROOT, write_sources
from riskmodels import pipeline, store
from riskmodels.report import csv_safe, export

D = dt.date(2026, 11, 24)
EVIL = '=HYPERLINK("http://evil.example/x","OpenAI")'


def test_csv_safe_prefixes_formula_text_and_leaves_numbers():
    df = pd.DataFrame({"name": ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", None, "a=b"],
                       "value": [-1.5, -2.0, 3.0, 0.0, -0.0, 1e9, -7.25, None, 2.0],
                       "rank": pd.array([-1, 2, 3, 4, 5, 6, 7, None, 9], dtype="Int64")})
    out = csv_safe(df)
    assert out["name"].tolist()[:7] == ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "plain"]
    assert pd.isna(out["name"].iloc[7]) and out["name"].iloc[8] == "a=b"
    pd.testing.assert_series_equal(out["value"], df["value"])
    pd.testing.assert_series_equal(out["rank"], df["rank"])


def test_a_hostile_entity_name_from_the_data_is_neutralised_in_csv_not_in_parquet(workspace, tmp_path, monkeypatch):
    ents = pd.read_csv(ROOT / "data" / "entities.csv", dtype=str, keep_default_na=False)
    ents.loc[ents.entity_id == "openai", "name"] = EVIL
    path = tmp_path / "entities.csv"
    ents.to_csv(path, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"entities": str(path)})))
    pipeline.run(D)
    stored = store.read_sql("SELECT subject_id, explanation, score FROM antitrust_scores WHERE run_date = :d "
                            "AND explanation LIKE :p", {"d": D, "p": EVIL + "%"})
    assert len(stored) > 0                                 # the name leads some explanations
    paths = {p.stem: p for p in export(D, "csv", tmp_path / "csv")}
    with paths["antitrust_scores"].open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cells = [r["explanation"] for r in rows if EVIL in r["explanation"] and r["explanation"].lstrip("'").startswith("=")]
    assert cells and all(c.startswith("'" + EVIL) for c in cells)
    assert not [c for r in rows for c in r.values() if c[:1] in ("=", "+", "@", "\t", "\r")]
    scores = {r["subject_id"]: float(r["score"]) for r in rows}   # numbers are as stored
    assert all(scores[s] == v for s, v in zip(stored.subject_id, stored.score))
    pq = {p.stem: p for p in export(D, "parquet", tmp_path / "pq")}
    back = pd.read_parquet(pq["antitrust_scores"])
    assert back.explanation.str.startswith(EVIL).sum() == len(stored)   # Parquet keeps the value
