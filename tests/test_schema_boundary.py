"""One schema, enforced at the boundary: whatever the store declares about a column that comes
from a dataset (NOT NULL, numeric, whole number, date, maximum length, a unique key) that
dataset's suite asserts, so bad input fails validation with a named row instead of failing the
database at publish. And every scorer takes a dataset with zero rows."""
from __future__ import annotations

import datetime as dt
import json
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import ROOT
from riskmodels import pipeline, store
from riskmodels.config import load_yaml, thresholds
from riskmodels.validate import DataQualityError, load_suite_dict, prepare_frame

SUITES = {name: spec["suite"] for name, spec in pipeline.load_sources()["datasets"].items()}
#: the suite of every dataset a store column comes from: the daily datasets and the SEC fact
#: tables (validated by the suite of their own name when the sec_filings DAG loads them)
ALL_SUITES = {**SUITES, **{name: name for name in (*store.SEC_TABLES, *store.EPOCH_TABLES)}}


def _critical(doc: dict) -> list[dict]:
    return [e for e in doc["expectations"] if e.get("severity", "critical") == "critical"]


def _asserts(doc: dict, etype: str, column: str) -> list[dict]:
    return [e for e in _critical(doc) if e["type"] == etype and e["kwargs"].get("column") == column]


def gaps() -> list[str]:
    """Every (store column, dataset column) pair whose suite misses what the store declares."""
    out = []
    for table in store.metadata.sorted_tables:
        for col in table.columns:
            for src in col.info.get("from", []):
                dataset, name = src.split(".")
                doc = load_suite_dict(ALL_SUITES[dataset])
                meta = doc.get("meta", {})
                where = f"{table.name}.{col.name} <- {src}"
                if not _asserts(doc, "expect_column_to_exist", name):
                    out.append(f"{where}: the suite does not require the column to exist")
                if (not col.nullable or col.primary_key) and not _asserts(doc, "expect_column_values_to_not_be_null", name):
                    out.append(f"{where}: NOT NULL in the store, nullable in the suite")
                bad = _asserts(doc, "expect_column_values_to_be_null", f"__bad_{name}")
                if isinstance(col.type, (sa.Float, sa.Numeric)) and not (name in meta.get("numeric_columns", []) and bad):
                    out.append(f"{where}: numeric in the store, not checked as a number")
                if isinstance(col.type, sa.Integer) and not (name in meta.get("integer_columns", []) and bad):
                    out.append(f"{where}: integer in the store, not checked as a whole number")
                if isinstance(col.type, sa.Date) and not (
                        name in meta.get("date_columns", []) + meta.get("period_columns", []) and bad):
                    out.append(f"{where}: a date in the store, not checked as a date or period")
                n = getattr(col.type, "length", None)
                if n:
                    lengths = [e["kwargs"].get("max_value") for e in
                               _asserts(doc, "expect_column_value_lengths_to_be_between", name)]
                    in_set = [max(map(len, map(str, e["kwargs"]["value_set"]))) for e in
                              _asserts(doc, "expect_column_values_to_be_in_set", name)]
                    bounded = ([v for v in lengths if v is not None and v <= n] or [v for v in in_set if v <= n]
                               or (name in meta.get("date_columns", []) and bad and n >= 10)
                               or (name in meta.get("period_columns", []) and bad and n >= 7))
                    if not bounded:
                        out.append(f"{where}: VARCHAR({n}) in the store, no length bound in the suite")
        key = [c for c in table.primary_key.columns if c.name != "run_date"]
        sources = {tuple(c.info.get("from", [])) for c in key}
        if key and "key_built_by" not in table.info and all(len(s) == 1 for s in sources) and \
                len({s[0].split(".")[0] for s in sources}) == 1:
            dataset = next(iter(sources))[0].split(".")[0]
            cols = {c.info["from"][0].split(".")[1] for c in key}
            doc = load_suite_dict(ALL_SUITES[dataset])
            unique = [{e["kwargs"]["column"]} for e in _critical(doc) if e["type"] == "expect_column_values_to_be_unique"]
            unique += [set(e["kwargs"]["column_list"]) for e in _critical(doc)
                       if e["type"] == "expect_compound_columns_to_be_unique"]
            if not any(u <= cols for u in unique):
                out.append(f"{table.name}: key {sorted(cols)} from {dataset} is not asserted unique by its suite")
    return out


def test_every_store_constraint_from_a_dataset_is_asserted_by_its_suite():
    assert gaps() == []


def test_the_walk_finds_a_gap_when_a_suite_drops_an_assertion(monkeypatch):
    """The walk is not vacuous: take one NOT NULL assertion away and it is reported."""
    real = load_suite_dict

    def without(name, settings=None):
        doc = real(name, settings)
        if name == "markets":
            doc = dict(doc, expectations=[e for e in doc["expectations"] if not (
                e["type"] == "expect_column_values_to_not_be_null" and e["kwargs"].get("column") == "geography")])
        return doc

    monkeypatch.setattr(sys.modules[__name__], "load_suite_dict", without)
    assert gaps() == ["markets.geography <- markets.geography: NOT NULL in the store, nullable in the suite"]


def test_lineage_covers_the_dataset_tables():
    covered = {src.split(".")[0] for t in store.metadata.sorted_tables for c in t.columns
               for src in c.info.get("from", [])}
    assert covered == set(ALL_SUITES) - {"regulatory_events"}   # events feed scores only, never a stored column


# --------------------------------------------------------------------------- zero rows
def _frames(run_date: dt.date) -> dict[str, pd.DataFrame]:
    out = {}
    for name, spec in pipeline.load_sources()["datasets"].items():
        raw = pd.read_csv(ROOT / spec["location"], dtype=str, keep_default_na=False, na_values=[""])
        raw.insert(0, "_row", range(1, len(raw) + 1))
        frame = prepare_frame(raw, load_suite_dict(spec["suite"]).get("meta", {}))
        frame = frame.drop(columns=[c for c in frame.columns if c.startswith("__")]).assign(input_sha256="x")
        out[name] = pipeline._point_in_time(frame, {"known_date": spec.get("known_date")}, run_date)
    return out


@pytest.mark.parametrize("dataset", list(SUITES))
def test_every_scorer_accepts_a_dataset_with_zero_rows(dataset):
    d = dt.date(2026, 11, 24)
    frames = _frames(d)
    frames[dataset] = frames[dataset].iloc[0:0]
    cfg = (thresholds()["zones"]["us-2023"], load_yaml(ROOT / "config" / "ownership.yaml"),
           load_yaml(ROOT / "config" / "risk.yaml"))
    try:
        scores = pipeline.compute_scores(frames, d, *cfg, previous_antitrust=None)
    except DataQualityError as exc:      # allowed: the run cannot proceed, and the error says why
        assert dataset in str(exc) and "no rows" in str(exc)
        assert dataset in ("entities", "markets", "market_shares")
        return
    for name, frame in scores.items():
        store.conform(frame, store.SCORE_TABLES[name])   # storable as it is
    empty_out = {"investments": ["investment_facts"], "compute_commitments": ["commitment_facts"]}
    for name in empty_out.get(dataset, []):
        assert len(scores[name]) == 0
    if dataset == "investments":
        assert (scores["antitrust_scores"].empty and scores["circular_flows"].empty)


@pytest.mark.parametrize("dataset", ["entities", "markets", "market_shares"])
def test_a_dataset_the_run_cannot_do_without_fails_validation_when_empty(dataset, workspace, tmp_path, monkeypatch):
    from conftest import write_sources

    spec = pipeline.load_sources()["datasets"][dataset]
    header = (ROOT / spec["location"]).read_text().splitlines()[0] + "\n"
    path = tmp_path / f"{dataset}.csv"
    path.write_text(header)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {dataset: str(path)})))
    with pytest.raises(DataQualityError) as info:
        pipeline.run(dt.date(2026, 11, 24))
    assert "expect_table_row_count_to_be_between" in str(info.value) and dataset in str(info.value)
    details = store.read_sql("SELECT details FROM validation_results WHERE dataset = :d", {"d": dataset})
    assert "expect_table_row_count_to_be_between" in json.loads(details.details.item())[0]["expectation"]
