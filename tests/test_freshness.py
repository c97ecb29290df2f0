"""The age of every figure (issue 15, item 2): cadence from the period label, the stale-after date
at the cadence boundaries, overrides per market, and its use in the run (columns, views, the
summary, the antitrust market-power component, the 'series went stale' alert); and changes that
are real (item 5): a change of coverage is not a change of concentration."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from conftest import ROOT
from riskmodels.config import load_yaml
from riskmodels.freshness import cadence, freshness

CFG = load_yaml(ROOT / "config" / "freshness.yaml")


@pytest.mark.parametrize("market, period, last_fresh", [
    # quarter: 2026Q1 ends 2026-03-31; + 2 quarters = 2026-09-30; + 60 days lag = 2026-11-29
    ("cloud.synergy.ww", "2026Q1", "2026-11-29"),
    # half: 2025H2 ends 2025-12-31; + 2 halves = 2026-12-31; + 90 days = 2027-03-31
    ("x.half", "2025H2", "2027-03-31"),
    # year: 2024FY ends 2024-12-31; + 2 years = 2026-12-31; + 120 days = 2027-04-30
    ("accel.mizuho.ai-chips", "2024FY", "2027-04-30"),
    # month: 2026-04 ends 2026-04-30; + 2 months = 2026-06-30; + 30 days = 2026-07-30
    ("x.month", "2026-04", "2026-07-30"),
    # a quarter ending in February's month grid: 2025Q4 + 2 quarters = 2026-06-30 (month ends, not +182 days)
    ("x.q", "2025Q4", "2026-08-29"),
    # day (a tracker's snapshot): 2026-01-02, on the month grid + 2 months = 2026-03-31; + 7 days = 2026-04-07
    ("model.similarweb.chatbot-web.visits", "2026-01-02", "2026-04-07"),
    # override: SEC segment revenue lags 90 days
    ("cloud.sec-filings.segment-revenue", "2024FY", "2027-03-31"),
])
def test_stale_after_at_the_cadence_boundary(market, period, last_fresh):
    day = dt.date.fromisoformat(last_fresh)
    on = freshness(pd.Series([market]), pd.Series([period]), day, CFG).iloc[0]
    after = freshness(pd.Series([market]), pd.Series([period]), day + dt.timedelta(days=1), CFG).iloc[0]
    assert str(on.stale_after) == last_fresh and bool(on.fresh) and not bool(after.fresh)
    assert on.data_age_days == (day - on.period_end).days


def test_cadence_labels_and_unreadable_periods():
    assert cadence(pd.Series(["2024Q3", "2025H1", "2023FY", "2026-04", "2026-01-02", "soon"])).tolist() == [
        "quarter", "half", "year", "month", "day", None]
    f = freshness(pd.Series(["m"]), pd.Series(["soon"]), dt.date(2026, 12, 1), CFG).iloc[0]
    assert not bool(f.fresh) and pd.isna(f.data_age_days)


def test_the_run_ages_every_figure_and_scores_on_fresh_series(workspace):
    from riskmodels import pipeline, store
    from riskmodels.alerts import metric_frame
    from riskmodels.htmlreport import build_report

    d = dt.date(2026, 12, 1)
    pipeline.run(d)
    c = store.read_sql("SELECT market_id, period, data_age_days, fresh, stale_after FROM concentration "
                       "WHERE run_date = :d", {"d": d}).set_index(["market_id", "period"])
    assert c.loc[("accel.techinsights.dc-gpu.units", "2023FY"), "data_age_days"] == (d - dt.date(2023, 12, 31)).days
    assert not bool(c.loc[("accel.techinsights.dc-gpu.units", "2023FY"), "fresh"])
    assert bool(c.loc[("accel.mizuho.ai-chips", "2024FY"), "fresh"])
    v = store.read_sql("SELECT market_id, data_age_days, fresh FROM v_latest_concentration")
    assert v["data_age_days"].notna().all() and set(v["fresh"].astype(int)) <= {0, 1}
    # market power names a fresh series, never the stale 2023FY ones
    a = store.read_sql("SELECT components FROM antitrust_scores WHERE run_date = :d AND subject_id = 'nvidia->openai'",
                       {"d": d})
    facts = json.loads(a.components.item())["market_power"]["facts"]
    assert "2023FY" not in facts and "accel.mizuho.ai-chips 2024FY" in facts
    # the summary leads with fresh series; stale ones are listed apart
    page = build_report(d).read_text()
    summary = page[page.index("Most concentrated markets"):page.index("Riskiest relationship</b>")]
    assert "2023FY" not in summary and "AI chips, worldwide — Mizuho <small>accel.mizuho.ai-chips</small>, 2024FY" in summary
    assert "<h4>Stale series</h4>" in page and "class='age old'" in page
    # the alert observes every series' latest period: stale ones at 1
    obs = metric_frame("series_stale", d).set_index("subject_id")
    assert obs.loc["accel.techinsights.dc-gpu.units", "value"] == 1.0
    assert obs.loc["accel.mizuho.ai-chips", "value"] == 0.0

    # Menlo's enterprise-API spend: 24% attributed in 2024FY, 88% in 2025FY -> a coverage change that
    # the change rule does not observe, and the report says so with both coverages
    v = store.read_sql("SELECT period, hhi_change, attributed_pct, previous_attributed_pct, coverage_change FROM "
                       "v_concentration_change WHERE run_date = :d AND market_id = 'model.menlo.us-ent-api.spend'",
                       {"d": d}).set_index("period")
    assert bool(v.loc["2025FY", "coverage_change"]) and v.loc["2025FY", "previous_attributed_pct"] == 24.0
    assert v.loc["2025FY", "hhi_change"] == pytest.approx(2194.0)
    assert "model.menlo.us-ent-api.spend" not in set(metric_frame("hhi_change", d)["subject_id"])
    assert "coverage change: 24% → 88% attributed" in page
    # a series whose coverage is stable keeps its change observed
    assert "cloud.canalys.ww" in set(metric_frame("hhi_change", d)["subject_id"])
