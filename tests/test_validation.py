"""Real GX validations: the shipped suites pass on the snapshot, and bad input fails with a
message naming the dataset, file, expectation, column and rows."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, write_sources
from riskmodels import pipeline, storage, store
from riskmodels.validate import DataQualityError, load_suite

RUN = dt.date(2026, 11, 24)


@pytest.mark.parametrize("path", sorted((ROOT / "expectations").glob("*.json")), ids=lambda p: p.stem)
def test_every_suite_loads_and_every_type_resolves(path):
    import great_expectations.expectations as gxe  # noqa: F401

    doc = json.loads(path.read_text())
    suite = load_suite(path.stem)
    assert suite.name == path.stem == doc["name"]
    assert len(suite.expectations) == len(doc["expectations"]) > 0
    assert {e.expectation_type for e in suite.expectations} == {e["type"] for e in doc["expectations"]}


def test_every_dataset_has_its_suite():
    for name, spec in pipeline.load_sources()["datasets"].items():
        assert (ROOT / "expectations" / f"{spec['suite']}.json").exists(), name


def test_snapshot_passes(workspace):
    refs = [pipeline.ingest(n, RUN) for n in pipeline.datasets()]
    summary = pipeline.validate(refs, RUN)
    assert all(s["success"] for s in summary["datasets"].values())
    rows = store.read_sql("SELECT dataset, success, evaluated FROM validation_results")
    assert set(rows.dataset) == set(pipeline.datasets()) and rows.success.all()
    index = workspace / "gx" / "data_docs" / "index.html"
    assert index.exists() and summary["data_docs"].startswith("file://")
    run_page = storage.local_path(storage.from_url(summary["data_docs"]))
    assert run_page.exists() and run_page.parent.parent == workspace / "gx" / "data_docs" / "runs"
    assert run_page.parent.name in index.read_text()
    pages = list(run_page.parent.rglob("*.html"))
    assert len(pages) == 1 + len(pipeline.datasets())        # the run's index + one page per dataset
    assert 'href="../../static/images/favicon.ico"' in run_page.read_text()   # one shared static folder
    assert (workspace / "gx" / "data_docs" / "static" / "images" / "favicon.ico").exists()
    assert not (run_page.parent / "static").exists()
    for page in pages:                                        # every relative static link resolves
        for link in re.findall(r'(?:href|src)="((?:\.\./)+static/[^"]+)"', page.read_text()):
            assert (page.parent / link).resolve().exists(), (page, link)
    docs = store.read_sql("SELECT DISTINCT data_docs FROM validation_results").data_docs.tolist()
    assert docs == [summary["data_docs"]]


def _bad_market_shares(tmp_path: Path) -> Path:
    df = pd.read_csv(ROOT / "data" / "market_shares.csv", dtype=str, keep_default_na=False)
    df.loc[2, "share_pct"] = "120"            # data row 3: out of range
    df.loc[4, "entity_id"] = "no-such-firm"   # data row 5: not in the registry
    df.loc[6, "source_date"] = "2024-13"      # data row 7: not a date
    df.loc[8, "market_size_usd_bn"] = "abc"   # data row 9: not a number
    df.loc[10, "confidence"] = "certain"      # data row 11: not an allowed grade
    path = tmp_path / "bad_market_shares.csv"
    df.to_csv(path, index=False)
    return path


def test_bad_csv_fails_with_a_clear_message(workspace, tmp_path, monkeypatch):
    bad = _bad_market_shares(tmp_path)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"market_shares": str(bad)})))
    refs = [pipeline.ingest(n, RUN) for n in pipeline.datasets()]
    with pytest.raises(DataQualityError) as info:
        pipeline.validate(refs, RUN, run_id="test-run")
    msg = str(info.value)
    assert "market_shares" in msg and str(bad) in msg
    assert "expect_column_values_to_be_between on column 'share_pct'" in msg and "row 3" in msg
    assert "unknown ids in column 'entity_id (ids not in the entity registry)'" in msg and "entity_id='no-such-firm'" in msg and "row 5" in msg
    assert "unparseable or out-of-range values in column 'source_date'" in msg and "'2024-13'" in msg and "row 7" in msg
    assert "unparseable or out-of-range values in column 'market_size_usd_bn'" in msg and "row 9" in msg
    assert "column 'confidence'" in msg and "row 11" in msg
    # only the bad dataset is blamed
    assert {f["dataset"] for f in info.value.failures} == {"market_shares"}
    status = store.read_sql("SELECT dataset, status FROM raw_inputs").set_index("dataset").status
    assert status["market_shares"] == "quarantined" and status["entities"] == "validated"
    assert storage.from_url(next(r for r in refs if r["dataset"] == "market_shares")["path"]).exists()
    run = store.read_sql("SELECT status, message FROM pipeline_runs WHERE run_id = 'test-run'")
    assert run.status.item() == "failed_validation" and "share_pct" in run.message.item()


def test_shares_of_one_market_period_may_not_exceed_100(workspace, tmp_path, monkeypatch):
    df = pd.read_csv(ROOT / "data" / "market_shares.csv", dtype=str, keep_default_na=False)
    first = df.index[(df.market_id == "cloud.synergy.ww") & (df.period == "2022Q1")][0]
    df.loc[first, "share_pct"] = "70"  # 70 + 22 + 10 = 102 > 100 + 1 tolerance
    path = tmp_path / "ms.csv"
    df.to_csv(path, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"market_shares": str(path)})))
    refs = [pipeline.ingest(n, RUN) for n in pipeline.datasets()]
    with pytest.raises(DataQualityError, match="__market_period_total_pct"):
        pipeline.validate(refs, RUN)


def test_duplicate_keys_and_missing_column(workspace, tmp_path, monkeypatch):
    df = pd.read_csv(ROOT / "data" / "compute_commitments.csv", dtype=str, keep_default_na=False)
    df = pd.concat([df, df.iloc[[0]]]).drop(columns=["power_gw"])
    path = tmp_path / "cc.csv"
    df.to_csv(path, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"compute_commitments": str(path)})))
    refs = [pipeline.ingest(n, RUN) for n in pipeline.datasets()]
    with pytest.raises(DataQualityError) as info:
        pipeline.validate(refs, RUN)
    msg = str(info.value)
    assert "expect_compound_columns_to_be_unique" in msg
    assert "expect_column_to_exist on column 'power_gw'" in msg
