"""One consensus across analyst series (issue 15, items 3-4): concepts on hand-checked inputs
(median and band over the fresh series, a concept with one fresh series, zone agreement, firm share
ranges, a market in no concept, reference series), and robust vs contested crossings."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from riskmodels.concepts import concept_concentration, concept_firm_shares, membership

CFG = {"concepts": {
    "acc": {"name": "Accelerators", "bucket": "year",
            "series": {"a.1": "one", "a.2": "two", "a.3": "three"}, "reference": {"a.ref": "a sum of reporters"}},
    "solo": {"name": "One fresh series", "bucket": "year", "series": {"s.1": "fresh", "s.2": "stale"}}}}


def conc_rows(rows):
    df = pd.DataFrame(rows, columns=["market_id", "period", "hhi", "zone", "fresh"])
    from riskmodels.dates import period_end

    return df.assign(period_end=period_end(df["period"]).dt.date)


CONC = conc_rows([
    ("a.1", "2024FY", 9000.0, "highly concentrated", True), ("a.1", "2025FY", 8000.0, "highly concentrated", True),
    ("a.2", "2025Q2", 6000.0, "highly concentrated", True), ("a.2", "2025Q4", 5000.0, "highly concentrated", True),
    ("a.3", "2023FY", 9900.0, "highly concentrated", False),
    ("a.ref", "2025FY", 5900.0, "n/a: reporting firms' sum", True),
    ("s.1", "2025FY", 1500.0, "moderately concentrated", True), ("s.2", "2025FY", 2500.0, "highly concentrated", False),
    ("other", "2025FY", 900.0, "unconcentrated", True),
])


def test_membership_makes_unlisted_markets_concepts_of_their_own_but_never_a_partial_series():
    m = membership(["a.1", "other", "partial.sum"], CFG, {"other": "Other market"}, partial={"partial.sum"})
    solo = m[m.market_id == "other"].iloc[0]
    assert (solo.concept_id, solo.concept_name, solo.role) == ("other", "Other market", "series")
    assert "partial.sum" not in set(m.market_id)
    assert m[m.market_id == "a.ref"].role.tolist() == ["reference"]


def test_median_and_band_over_the_fresh_series_per_bucket():
    cc = concept_concentration(CONC, CFG).set_index(["concept_id", "bucket"])
    y = cc.loc[("acc", "2025FY")]
    # 2025FY: a.1 8,000 and a.2's latest quarter of the year (2025Q4: 5,000); a.3 has no 2025 period
    assert (y.n_series, y.n_fresh, y.median_hhi, y.hhi_min, y.hhi_max) == (2, 2, 6500.0, 5000.0, 8000.0)
    assert bool(y.zones_agree) and y.zone == "highly concentrated"
    # "latest": each series' latest period; the stale a.3 counts in n_series and the *_all figures only
    lt = cc.loc[("acc", "latest")]
    assert (lt.n_series, lt.n_fresh, lt.median_hhi) == (3, 2, 6500.0)
    assert lt.hhi_max_all == 9900.0 and lt.median_hhi_all == 8000.0
    assert [x["market_id"] for x in json.loads(lt.reference)] == ["a.ref"]     # listed, not counted
    assert {x["market_id"] for x in json.loads(lt.series)} == {"a.1", "a.2", "a.3"}
    # a concept with one fresh series: its HHI is the median and the band
    one = cc.loc[("solo", "latest")]
    assert (one.n_series, one.n_fresh, one.median_hhi, one.hhi_min, one.hhi_max) == (2, 1, 1500.0, 1500.0, 1500.0)
    assert one.zone == "moderately concentrated" and one.median_hhi_all == 2000.0
    # a market in no concept
    assert cc.loc[("other", "latest"), "median_hhi"] == 900.0
    # zones disagree -> no common zone
    mixed = conc_rows([("a.1", "2025FY", 2000.0, "highly concentrated", True),
                       ("a.2", "2025FY", 1200.0, "moderately concentrated", True)])
    m = concept_concentration(mixed, CFG).set_index(["concept_id", "bucket"]).loc[("acc", "latest")]
    assert not bool(m.zones_agree) and pd.isna(m.zone)


def test_firm_share_ranges_across_the_fresh_series():
    shares = pd.DataFrame({"market_id": ["a.1", "a.2", "a.3", "a.1", "a.2"],
                           "period": ["2025FY", "2025Q4", "2023FY", "2025FY", "2025Q4"],
                           "entity_id": ["nvidia", "nvidia", "nvidia", "amd", "amd"],
                           "share_pct": [80.0, 64.0, 98.0, 10.0, 20.0]})
    f = concept_firm_shares(CONC, shares, CFG).set_index(["concept_id", "bucket", "entity_id"])
    nv = f.loc[("acc", "latest", "nvidia")]
    assert (nv.n_series, nv.n_fresh, nv.share_median, nv.share_min, nv.share_max) == (2, 2, 72.0, 64.0, 80.0)
    assert (nv.n_series_all, nv.share_max_all) == (3, 98.0)
    assert json.loads(nv.series) == {"a.1": 80.0, "a.2": 64.0}


def test_the_snapshot_alerts_once_per_concept_and_firm_robust_or_contested(workspace):
    from riskmodels import pipeline, store

    d = dt.date(2026, 12, 1)
    pipeline.run(d)
    st = store.read_sql("SELECT rule_id, subject_id, status, value FROM alert_state WHERE run_date = :d", {"d": d})
    firing = st[st.status == "FIRING"]
    # the per-series share and HHI rules are off: Nvidia above 30% is one alert, not one per series
    assert not firing.rule_id.isin(["firm-share-over-30", "hhi-highly-concentrated"]).any()
    nv = firing[(firing.rule_id == "concept-firm-share-over-30") & (firing.subject_id == "dc-accelerators.ww:nvidia")]
    # Nvidia in the 8 fresh series: 64, 70, 80, 80, 86, 90, 92.5, 95 -> median (80 + 86) / 2 = 83
    assert len(nv) == 1 and nv.value.item() == pytest.approx(83.0)
    from riskmodels.alerts import evaluate, rules_config

    state, _ = evaluate(d, rules_config())
    row = state[(state.rule_id == "concept-firm-share-over-30")].set_index("subject_id")
    assert row.loc["dc-accelerators.ww:nvidia", "consensus"] == "robust"
    assert row.loc["dc-accelerators.ww:nvidia", "drivers"].startswith("above 30 in 8 of 8 fresh series (robust)")
    assert row.loc["enterprise-llm-api:anthropic", "consensus"] == "contested"
    hhi = state[state.rule_id == "concept-hhi-highly-concentrated"].set_index("subject_id")
    # fresh HHIs 4,096, 4,900, 6,400, 6,400, 7,397, 8,164, 8,609.54, 9,025 -> median (6,400 + 7,397) / 2
    assert hhi.loc["dc-accelerators.ww", "value"] == pytest.approx(6898.5)
    # China: IDC 2025 cards (55% + 4% attributed: 3,041) and Bernstein 2024 (66%: 4,356)
    assert hhi.loc["china-ai-accelerators.cn", "value"] == pytest.approx(3698.5)
    v = store.read_sql("SELECT * FROM v_latest_concepts").set_index("concept_id")
    assert v.loc["dc-accelerators.ww", "top_entity_id"] == "nvidia" and v.loc["dc-accelerators.ww", "n_fresh"] == 8
    assert v.loc["cloud-infrastructure.ww", "n_fresh"] == 0 and pd.isna(v.loc["cloud-infrastructure.ww", "median_hhi"])


def test_cli_prints_the_concepts_by_name(workspace):
    import subprocess
    import sys

    from riskmodels import pipeline

    pipeline.run(dt.date(2026, 12, 1))
    out = subprocess.run([sys.executable, "-m", "riskmodels.cli", "show", "concepts"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "Data-centre AI accelerators" in x)
    # no Epoch release loaded here: 11 series with figures, 8 of them fresh
    assert "8 of 11" in line and "6,898" in line and "Nvidia Corp. 64–95% (8 series)" in line
    conc = subprocess.run([sys.executable, "-m", "riskmodels.cli", "show", "concentration", "--layer", "accelerator",
                           "--top", "40"],
                          capture_output=True, text=True, timeout=300)
    assert conc.returncode == 0 and "age_days" in conc.stdout and "stale" in conc.stdout and "fresh" in conc.stdout
