from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from riskmodels.dates import date_end, known_by, parse_date, period_end


@pytest.mark.parametrize("text,expected", [
    ("2024", dt.date(2024, 12, 31)), ("2024-02", dt.date(2024, 2, 29)), ("2023-02", dt.date(2023, 2, 28)),
    ("2025-06-15", dt.date(2025, 6, 15)),
])
def test_parse_date_three_precisions(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("bad", ["2024-13", "2024-02-30", "24", "2024/01/01", "", "yesterday"])
def test_parse_date_rejects(bad):
    with pytest.raises(ValueError, match="not a date"):
        parse_date(bad)


def test_period_end_all_kinds():
    got = period_end(pd.Series(["2024Q3", "2025H1", "2023FY", "2026-04", "2026-01-02", "2024Q5", "2026-02-30", None]))
    assert got.dt.date.tolist()[:5] == [dt.date(2024, 9, 30), dt.date(2025, 6, 30), dt.date(2023, 12, 31),
                                        dt.date(2026, 4, 30), dt.date(2026, 1, 2)]
    assert got.iloc[5:].isna().all()


def test_a_compiled_date_caps_a_source_date_known_only_to_the_year():
    # Omdia's 2025Q4 shares (source dated "2026") compiled into the reference files on 2026-12-01
    df = pd.DataFrame({"source_date": ["2026", "2026", "2026-03"], "period": ["2025Q4", "2025Q4", "2025Q4"],
                       "compiled_on": ["2026-12-01", None, "2026-12-01"]})
    caps = {"compiled_on": ["source_date"]}
    assert known_by(df, ["source_date", "period"], dt.date(2026, 12, 1), caps).tolist() == [True, False, True]
    assert known_by(df, ["source_date", "period"], dt.date(2026, 11, 30), caps).tolist() == [False, False, True]
    assert known_by(df, ["source_date", "period"], dt.date(2026, 12, 31), caps).tolist() == [True, True, True]
    # the cap never makes a period known before it ends, and without caps nothing changes
    assert known_by(df.assign(period="2026Q4"), ["source_date", "period"], dt.date(2026, 12, 1), caps).tolist() == [
        False, False, False]
    assert known_by(df, ["source_date", "period"], dt.date(2026, 12, 1)).tolist() == [False, False, True]


def test_date_end_invalid_is_nat():
    assert date_end(pd.Series(["2024-02-30", "abc", None])).isna().all()


def test_known_by_needs_both_dates_on_or_before():
    df = pd.DataFrame({"source_date": ["2024-08", "2024-07-01", None, None],
                       "period": ["2024Q2", "2024Q3", "2023FY", None]})
    assert known_by(df, ["source_date", "period"], dt.date(2024, 8, 31)).tolist() == [True, False, True, False]
    assert known_by(df, ["source_date", "period"], dt.date(2024, 8, 30)).tolist() == [False, False, True, False]


def test_dates_outside_what_timestamps_hold_are_unknown_not_a_crash():
    import pandas as pd

    from riskmodels.dates import date_end, period_end

    ends = date_end(pd.Series(["0001-01-01", "2300-01-01", "9999-12-31", "1678", "2261-12"]))
    assert ends.isna().tolist() == [True, True, True, False, False]
    assert period_end(pd.Series(["3000Q4", "0001FY", "2261FY"])).isna().tolist() == [True, True, False]
