"""HHI and friends on published worked examples (each cited) and edge cases."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskmodels.concentration import (ZONE_HIGH, ZONE_MODERATE, ZONE_UNCONCENTRATED, concentration_table, hhi,
                                      zone)

DATA = Path(__file__).resolve().parent.parent / "data"


def test_doj_worked_example():
    # U.S. DOJ, "Herfindahl-Hirschman Index" (justice.gov/atr/herfindahl-hirschman-index):
    # "a market consisting of four firms with market shares of thirty, thirty, twenty, and
    # twenty percent has an HHI of 2,600".
    assert hhi([30, 30, 20, 20]) == 2600


def test_scrutica_cloud_lower_bound():
    # Scrutica, "Concentration" page (data/hhi_reference.csv row 1): HHI >= 1,421 for worldwide
    # cloud from Synergy's Q4 2025 top-3 shares 28, 21 and 14.
    assert hhi([28, 21, 14]) == 1421


def test_monopoly_and_atomistic():
    # 2010 HMG s.5.3: HHI ranges from near 0 (atomistic) to 10,000 (monopoly).
    assert hhi([100]) == 10_000
    assert hhi([1] * 100) == 100


def test_no_renormalisation():
    # Shares are used as reported: a single named firm at 50% gives 2,500, not 10,000.
    assert hhi([50]) == 2500


@pytest.mark.parametrize("bad", [[np.nan, 10], [-1, 50], [101], [[10, 20]]])
def test_hhi_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        hhi(bad)


def test_zones_use_the_guidelines_inequalities():
    # 2023 Merger Guidelines: highly concentrated means HHI *greater than* 1,800.
    assert zone(1800.0) == ZONE_MODERATE
    assert zone(1800.01) == ZONE_HIGH
    assert zone(1000.0) == ZONE_MODERATE
    assert zone(999.99) == ZONE_UNCONCENTRATED
    assert zone(float("nan")) is None


def test_table_interval_cr4_and_unknown_shares():
    df = pd.DataFrame({
        "market_id": ["m"] * 6 + ["n"],
        "period": ["2024Q1"] * 6 + ["2024Q1"],
        "entity_id": ["a", "b", "c", "d", "e", "x", "z"],
        "share_pct": [40, 20, 10, 5, 5, np.nan, 100],
    })
    t = concentration_table(df).set_index("market_id")
    m = t.loc["m"]
    assert m["hhi"] == 40**2 + 20**2 + 10**2 + 5**2 + 5**2 == 2150
    assert m["attributed_pct"] == 80
    assert m["hhi_upper"] == 2150 + 20**2  # remainder 20% as one firm
    assert m["cr1"] == 40 and m["cr4"] == 75
    assert m["n_firms"] == 5 and m["n_unknown_share"] == 1
    assert math.isclose(m["numbers_equivalent"], 10_000 / 2150)
    assert m["top_entity_id"] == "a"
    assert m["zone"] == ZONE_HIGH
    assert t.loc["n", "hhi"] == 10_000 and t.loc["n", "hhi_upper"] == 10_000


def test_table_market_with_only_unknown_shares_has_a_row():
    df = pd.DataFrame({"market_id": ["m"], "period": ["2023FY"], "entity_id": ["a"], "share_pct": [np.nan]})
    t = concentration_table(df)
    assert len(t) == 1 and t.loc[0, "n_firms"] == 0 and t.loc[0, "n_unknown_share"] == 1
    assert pd.isna(t.loc[0, "hhi"]) and t.loc[0, "zone"] is None


def test_matches_every_derived_lower_bound_in_the_reference_table():
    """data/hhi_reference.csv holds lower-bound HHIs computed by the reference compilers from the
    same shares ("all named firms" and "top-3"); ours must reproduce each of them."""
    ref = pd.read_csv(DATA / "hhi_reference.csv")
    shares = pd.read_csv(DATA / "market_shares.csv")
    analyst_market = {"Synergy Research Group": "cloud.synergy.ww", "Canalys": "cloud.canalys.ww",
                      "Gartner": "cloud.gartner-iaas.ww"}
    checked = 0
    for _, r in ref.iterrows():
        market = next((m for a, m in analyst_market.items() if f"({a})" in r["market"]), None)
        if market is None or not str(r["hhi_type"]).startswith("derived lower bound"):
            continue
        rows = shares[(shares.market_id == market) & (shares.period == r["period"])]
        if "top-3" in r["hhi_type"]:
            rows = rows[rows.entity_id.isin(["aws", "microsoft-azure", "google-cloud"])]
        assert concentration_table(rows).loc[0, "hhi"] == pytest.approx(r["hhi"], abs=0.5), r.to_dict()
        checked += 1
    assert checked >= 25
