"""The suites' expectations evaluated directly in pandas, vectorised, on every row.

GX Core runs each expectation through its own metric machinery, a fixed cost per expectation
and per batch that dominates on large frames (see bench/pipeline_bench.py). For frames above
``config/validation.yaml``'s ``gx_full_max_rows``, :mod:`riskmodels.validate` runs these checks on
the full frame and GX on a representative sample (the rows these checks flag plus a seeded
random sample), and reports both. Semantics follow GX's pandas implementation (nulls are
skipped by column-map expectations; a duplicate counts every occurrence); a test runs both on
the same bad frames and compares the failures.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SUPPORTED = {"expect_column_to_exist", "expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
             "expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
             "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
             "expect_column_values_to_match_regex", "expect_column_value_lengths_to_be_between",
             "expect_table_row_count_to_be_between"}


def _resolve(value, params: dict):
    if isinstance(value, dict) and "$PARAMETER" in value:
        return params[value["$PARAMETER"]]
    return value


def _outside(v: np.ndarray, lo, hi) -> np.ndarray:
    """Elementwise v < lo or v > hi (a bound of None is open; NaN is never outside)."""
    bad = np.zeros(len(v), dtype=bool)
    with np.errstate(invalid="ignore"):
        if lo is not None:
            bad |= v < lo
        if hi is not None:
            bad |= v > hi
    return bad


def _between(value: float, lo, hi) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def unexpected_mask(frame: pd.DataFrame, expectation: dict, params: dict | None = None) -> np.ndarray | None:
    """Boolean mask of the rows that fail one expectation (a suite JSON entry), or None for a
    table-level failure (a missing column, a row count out of range). Raises ValueError for an
    unsupported type."""
    t, kw = expectation["type"], expectation["kwargs"]
    params = params or {}
    if t not in SUPPORTED:
        raise ValueError(f"no pandas check for {t}")
    if t == "expect_table_row_count_to_be_between":
        return None if not _between(len(frame), kw.get("min_value"), kw.get("max_value")) else np.zeros(len(frame), bool)
    cols = kw.get("column_list") or [kw["column"]]
    if any(c not in frame.columns for c in cols):
        return None
    if t == "expect_column_to_exist":
        return np.zeros(len(frame), dtype=bool)
    if t == "expect_compound_columns_to_be_unique":
        sub = frame[cols]
        return (sub.duplicated(keep=False) & sub.notna().any(axis=1)).to_numpy()
    col = frame[cols[0]]
    present = col.notna().to_numpy()
    if t == "expect_column_values_to_not_be_null":
        return ~present
    if t == "expect_column_values_to_be_null":
        return present
    if t == "expect_column_values_to_be_between":
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        return _outside(v, _resolve(kw.get("min_value"), params), _resolve(kw.get("max_value"), params)) & present
    if t == "expect_column_values_to_be_in_set":
        allowed = _resolve(kw["value_set"], params)
        return present & ~col.isin(list(allowed)).to_numpy()
    if t == "expect_column_values_to_be_unique":
        return present & col.duplicated(keep=False).to_numpy()
    if t == "expect_column_value_lengths_to_be_between":
        n = col.astype("string").str.len().to_numpy(dtype=float, na_value=np.nan)
        return _outside(n, kw.get("min_value"), kw.get("max_value")) & present
    # expect_column_values_to_match_regex: re.search semantics, as GX's pandas engine
    return present & ~col.astype("string").str.contains(kw["regex"], regex=True).fillna(False).to_numpy(dtype=bool)


def run_checks(frame: pd.DataFrame, doc: dict, params: dict | None = None, examples: int = 5) -> list[dict]:
    """Every expectation of the suite ``doc`` on ``frame``; one dict per failed expectation with
    ``type``, ``kwargs``, ``severity``, ``unexpected_count`` (None for a missing column),
    ``rows`` (frame index of every failing row) and ``examples`` (the first ``examples`` rows:
    ``_row`` and the value)."""
    out = []
    for e in doc["expectations"]:
        mask = unexpected_mask(frame, e, params)
        if mask is not None and not mask.any():
            continue
        if e["type"] == "expect_table_row_count_to_be_between":
            out.append({"type": e["type"], "kwargs": e["kwargs"], "severity": e.get("severity", "critical"),
                        "unexpected_count": None, "rows": np.zeros(0, dtype=np.int64), "examples": [],
                        "observed_value": int(len(frame))})
            continue
        entry = {"type": e["type"], "kwargs": e["kwargs"], "severity": e.get("severity", "critical"),
                 "unexpected_count": None if mask is None else int(mask.sum()),
                 "rows": np.zeros(0, dtype=np.int64) if mask is None else np.flatnonzero(mask), "examples": []}
        if mask is not None:
            cols = e["kwargs"].get("column_list") or [e["kwargs"]["column"]]
            first = frame.iloc[entry["rows"][:examples]]
            for _, r in first.iterrows():
                entry["examples"].append({"row": r.get("_row"), "values": {c: r[c] for c in cols}})
        out.append(entry)
    return out
