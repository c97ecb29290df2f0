"""One Epoch AI dataset release as a typed frame: columns selected **by name** (``config/epoch.yaml``
``datasets.<name>.columns``), renamed to their short names, text stripped; the ``numbers`` columns
as floats and the ``dates`` columns at the end of their precision (``2021-07`` -> 2021-07-31).

A release that lacks a needed column, or a cell that is not a number or a date, raises
:class:`EpochSchemaError` naming the file, the 1-based data row and Epoch's column name.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd


class EpochSchemaError(ValueError):
    """A dataset release lacks a column this project reads (or a cell is not of its type)."""


def read_release(raw: bytes, cfg: dict, dataset: str, source: str | None = None) -> pd.DataFrame:
    """The release's rows with the configured columns plus ``row`` (1-based data row of the file)."""
    from ...dates import date_end

    spec = cfg["datasets"][dataset]
    source = source or f"{dataset}.csv"
    columns = spec["columns"]
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise EpochSchemaError(f"{source}: not a CSV this project can read: {exc}") from exc
    missing = [c for c in columns.values() if c not in df.columns]
    if missing:
        raise EpochSchemaError(f"{source}: the release lacks the column(s) {missing} (has {len(df.columns)} "
                               "columns; renamed or dropped upstream): nothing is scored from it")
    out = df[list(columns.values())].rename(columns={v: k for k, v in columns.items()})
    out = out.apply(lambda s: s.str.strip())
    out.insert(0, "row", np.arange(1, len(out) + 1))
    for col in spec.get("numbers", []):
        num = pd.to_numeric(out[col].replace("", np.nan), errors="coerce")
        bad = out[col].ne("") & num.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise EpochSchemaError(f"{source}: row {i + 1}, column {columns[col]!r}: {out[col].iloc[i]!r} is not a number "
                                   f"({int(bad.sum())} such cell(s))")
        out[col] = num.astype(float)
    for col in spec.get("dates", []):
        end = date_end(out[col].replace("", None))
        bad = out[col].ne("") & end.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise EpochSchemaError(f"{source}: row {i + 1}, column {columns[col]!r}: {out[col].iloc[i]!r} is not a date "
                                   f"({int(bad.sum())} such cell(s))")
        out[col] = end
    return out
