"""Large frames: every row through the vectorised pandas checks, a sample through GX.

The pandas checks must agree with GX: the same bad file validated fully by GX and in the
sampled mode gives the same failures (expectation, column, count, example rows)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import yaml

from conftest import ROOT, write_sources
from riskmodels import pipeline, store
from riskmodels.synth import write
from riskmodels.validate import DataQualityError

RUN = dt.date(2026, 11, 24)


def _mode(tmp_path, monkeypatch, full_max: int, sample: int) -> None:
    path = tmp_path / f"validation-{full_max}.yaml"
    cfg = yaml.safe_load((ROOT / "config" / "validation.yaml").read_text())
    cfg.update(gx_full_max_rows=full_max, gx_sample_rows=sample)
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("RISKMODELS_VALIDATION", str(path))


def _bad_files(tmp_path):
    ms = pd.read_csv(ROOT / "data" / "market_shares.csv", dtype=str, keep_default_na=False)
    ms.loc[2, "share_pct"] = "120"              # out of range, and its market-period sums over 100
    ms.loc[4, "entity_id"] = "no-such-firm"     # not in the registry
    ms.loc[6, "source_date"] = "2024-13"        # not a date
    ms.loc[10, "confidence"] = "certain"        # not an allowed grade
    ms.loc[12, "market_id"] = ""                # null
    ms = pd.concat([ms, ms.iloc[[20]]])         # a duplicate market-period-entity row
    inv = pd.read_csv(ROOT / "data" / "investments.csv", dtype=str, keep_default_na=False)
    inv.loc[3, "stake_pct"] = "-5"
    inv.loc[5, "amount_basis"] = "rumoured"
    ent = pd.read_csv(ROOT / "data" / "entities.csv", dtype=str, keep_default_na=False)
    ent.loc[7, "entity_id"] = ent.loc[8, "entity_id"]   # duplicate id
    paths = {}
    for name, frame in {"market_shares": ms, "investments": inv, "entities": ent}.items():
        paths[name] = str(tmp_path / f"bad_{name}.csv")
        frame.to_csv(paths[name], index=False)
    return paths


def _failures(tmp_path, monkeypatch, full_max, sample):
    _mode(tmp_path, monkeypatch, full_max, sample)
    refs = [pipeline.ingest(n, RUN) for n in pipeline.datasets()]
    with pytest.raises(DataQualityError) as info:
        pipeline.validate(refs, RUN)
    modes = store.read_sql("SELECT dataset, mode, gx_rows, rows FROM validation_results")
    got = {(f["dataset"], f["expectation"], str(f["column"])): (f["unexpected_count"],
                                                               [e["row"] for e in f["examples"]])
           for f in info.value.failures}
    return got, modes, str(info.value)


def test_pandas_checks_agree_with_gx(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, _bad_files(tmp_path))))
    by_gx, modes_gx, _ = _failures(tmp_path, monkeypatch, 10**9, 0)
    assert set(modes_gx["mode"]) == {"gx_full"}
    by_pandas, modes_pd, message = _failures(tmp_path, monkeypatch, 0, 3)
    assert set(modes_pd["mode"]) == {"pandas_full+gx_sample"}
    assert (modes_pd["gx_rows"] < modes_pd["rows"]).any()
    assert len(by_gx) >= 9
    assert by_pandas.keys() == by_gx.keys()
    for key, (count, rows) in by_gx.items():
        assert by_pandas[key][0] == count, key
        assert sorted(by_pandas[key][1]) == sorted(rows), key
    assert "row 3 (line 4)" in message and "share_pct" in message


def test_large_frame_finds_a_bad_row_outside_the_gx_sample(workspace, tmp_path, monkeypatch):
    write(tmp_path / "world", scale=10, seed=3)
    shares = pd.read_csv(tmp_path / "world" / "market_shares.csv", dtype=str, keep_default_na=False)
    last = len(shares) - 1
    shares.loc[last, "share_pct"] = "not a number"
    shares.to_csv(tmp_path / "world" / "market_shares.csv", index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(tmp_path / "world" / "sources.yaml"))
    _mode(tmp_path, monkeypatch, 1000, 100)
    refs = [pipeline.ingest(n, RUN) for n in pipeline.datasets()]
    with pytest.raises(DataQualityError) as info:
        pipeline.validate(refs, RUN)
    (f,) = info.value.failures
    assert f["column"] == "share_pct" and f["unexpected_count"] == 1 and f["examples"][0]["row"] == last + 1
    assert f["checked_by"] == "pandas (every row)"
    assert f"row {last + 1} (line {last + 2})" in str(info.value)
    modes = store.read_sql("SELECT dataset, mode, gx_rows, rows FROM validation_results").set_index("dataset")
    assert modes.loc["market_shares", "mode"] == "pandas_full+gx_sample"
    assert modes.loc["market_shares", "rows"] == len(shares) > 1000 >= modes.loc["market_shares", "gx_rows"] - 1
