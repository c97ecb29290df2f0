"""Dates and periods as the reference data writes them.

Dates come as ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; periods as ``2024Q3`` (quarter),
``2025H1`` (half), ``2023FY`` (year), ``2026-04`` (month) or ``2026-01-02`` (day: a tracker's
snapshot date). Point-in-time logic needs the
*last* day a value could refer to, so every parser here returns the end of the stated
precision (``2024-08`` -> 2024-08-31, ``2024`` -> 2024-12-31, ``2024Q3`` -> 2024-09-30).
All functions are vectorised over pandas Series; unparseable values become NaT, and so do dates
outside the years 1678-2261 (what nanosecond timestamps can hold; no source row dates there).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

DATE_RE = r"^\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?$"
#: the years a value may fall in (datetime64[ns] holds 1677-09-21 to 2262-04-11)
MIN_YEAR, MAX_YEAR = 1678, 2261
PERIOD_RE = r"^\d{4}(?:Q[1-4]|H[12]|FY|-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)$"


def parse_date(value: str) -> dt.date:
    """Parse one run date given as YYYY, YYYY-MM or YYYY-MM-DD (end of precision for the
    shorter forms). Raises ValueError with the offending text."""
    s = pd.Series([value], dtype="object")
    out = date_end(s).iloc[0]
    if pd.isna(out):
        raise ValueError(f"not a date: {value!r} (expected YYYY, YYYY-MM or YYYY-MM-DD)")
    return out.date()


def date_end(values: pd.Series) -> pd.Series:
    """Series of date strings (any of the three precisions) -> datetime64 at the end of the
    stated precision. Empty, null or invalid entries (e.g. 2024-02-30) give NaT."""
    s = values.astype("string").str.strip()
    ok = s.str.fullmatch(DATE_RE).fillna(False).astype(bool)
    year_of = pd.to_numeric(s.str.slice(0, 4), errors="coerce")
    ok &= year_of.between(MIN_YEAR, MAX_YEAR).fillna(False).astype(bool)
    day = pd.to_datetime(s.where(ok & (s.str.len() == 10)), format="%Y-%m-%d", errors="coerce")
    month = pd.to_datetime(s.where(ok & (s.str.len() == 7)), format="%Y-%m", errors="coerce")
    year = pd.to_datetime(s.where(ok & (s.str.len() == 4)), format="%Y", errors="coerce")
    return (day.fillna(month + pd.offsets.MonthEnd(0)).fillna(year + pd.offsets.YearEnd(0))
            .astype("datetime64[ns]"))


def period_end(periods: pd.Series) -> pd.Series:
    """Series of period labels (2024Q3, 2025H1, 2023FY, 2026-04, 2026-01-02) -> last day of the
    period (a day label is its own last day; an impossible day such as 2026-02-30 gives NaT)."""
    s = periods.astype("string").str.strip()
    year = pd.to_numeric(s.str.slice(0, 4), errors="coerce")
    year = year.where(year.between(MIN_YEAR, MAX_YEAR))
    kind = s.str.slice(4)
    month = pd.Series(pd.NA, index=s.index, dtype="Float64")
    q = kind.str.fullmatch(r"Q[1-4]").fillna(False).astype(bool)
    month[q] = pd.to_numeric(kind[q].str.slice(1)) * 3
    h = kind.str.fullmatch(r"H[12]").fillna(False).astype(bool)
    month[h] = pd.to_numeric(kind[h].str.slice(1)) * 6
    month[kind == "FY"] = 12
    m = kind.str.fullmatch(r"-(?:0[1-9]|1[0-2])").fillna(False).astype(bool)
    month[m] = pd.to_numeric(kind[m].str.slice(1))
    start = pd.to_datetime(
        pd.DataFrame({"year": year, "month": month, "day": 1}).astype("float").dropna().astype(int),
        errors="coerce")
    out = (start + pd.offsets.MonthEnd(0)).reindex(s.index).astype("datetime64[ns]")
    d = kind.str.fullmatch(r"-\d{2}-\d{2}").fillna(False).astype(bool) & year.notna()
    if d.any():
        out[d] = pd.to_datetime(s[d], format="%Y-%m-%d", errors="coerce")
    return out


def known_by(frame: pd.DataFrame, columns: list[str], as_of: dt.date,
             caps: dict[str, list[str]] | None = None) -> pd.Series:
    """Boolean mask: rows whose every known-date column (date or period, end of precision)
    is on or before ``as_of``. A row whose known date is unknown (empty) in *every* named
    column is kept out: we cannot show it was known by ``as_of``.

    ``caps`` maps a column holding the date a row was compiled (e.g. ``compiled_on``) to the
    known-date columns it caps: a source date given only to the year ("2026", end of precision
    2026-12-31) counts as no later than the day the row was compiled from that source."""
    limit = pd.Timestamp(as_of)
    capped: dict[str, pd.Series] = {}
    for cap_col, targets in (caps or {}).items():
        if cap_col in frame.columns:
            cap = date_end(frame[cap_col])
            for t in targets:
                capped[t] = cap if t not in capped else capped[t].where(capped[t] <= cap, cap)
    ends = []
    for col in columns:
        values = frame[col]
        end = date_end(values)
        as_period = period_end(values)
        end = end.fillna(as_period)
        if col in capped:
            cap = capped[col]
            end = end.where(cap.isna() | (end <= cap), cap)
        ends.append(end)
    latest = pd.concat(ends, axis=1).max(axis=1, skipna=True)
    return (latest <= limit).fillna(False).astype(bool)
