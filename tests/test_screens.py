"""Screens beyond HHI (riskmodels.screens): worked examples derived by hand, each rule's boundary as
its text words it, and the snapshot's AI partnerships classified per jurisdiction."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from riskmodels import screens

CFG = screens._config(str(ROOT / "config" / "screens.yaml"))


def test_guppi_on_a_worked_example():
    # s1 = 30%, s2 = 20%: D12 = 20 / (100 - 30) = 2/7; m2 = 0.4, equal prices: GUPPI = 0.8/7
    assert screens.diversion(30, 20) == pytest.approx(2 / 7)
    assert screens.guppi(30, 20, 0.4) == pytest.approx(0.8 / 7)
    # the rival's price twice the firm's doubles the value of each diverted sale
    assert screens.guppi(30, 20, 0.4, price_ratio=2.0) == pytest.approx(1.6 / 7)


def test_mguppi_equals_guppi_for_a_full_merger_and_scales_with_kappa():
    g = screens.guppi(30, 20, 0.4)
    assert screens.mguppi(1.0, 30, 20, 0.4) == g
    assert screens.mguppi(0.25, 30, 20, 0.4) == pytest.approx(g / 4)
    assert screens.mguppi(0.0, 30, 20, 0.4) == 0.0


def _cmcr_matrix(m1, m2, d12, d21, r):
    """The general Bertrand form (B_post m_post = B_pre m; mc change = (m_post - m) / (1 - m)),
    written out independently of the closed form, for product 1."""
    b = np.array([[1.0, -d12 * r], [-d21 / r, 1.0]])
    m = np.array([m1, m2])
    post = np.linalg.solve(b, m)
    return ((post - m) / (1 - m))[0]


def test_cmcr_on_a_worked_example_and_against_the_matrix_form():
    # symmetric: m = 0.4, D = 0.2: (0.4 x 0.04 + 0.4 x 0.2) / (0.6 x 0.96) = 0.096 / 0.576 = 1/6
    assert screens.cmcr(0.4, 0.4, 0.2, 0.2) == pytest.approx(1 / 6)
    # asymmetric margins, diversions and prices: a swapped index or a transposed ratio fails here
    for args in [(0.3, 0.6, 0.25, 0.1, 1.5), (0.55, 0.2, 0.05, 0.4, 0.7)]:
        assert screens.cmcr(*args) == pytest.approx(_cmcr_matrix(*args), rel=1e-12)
    assert screens.cmcr(0.3, 0.6, 0.25, 0.1, 1.5) != pytest.approx(screens.cmcr(0.3, 0.6, 0.1, 0.25, 1.5))


def test_cmcr_screen_needs_both_cited_margins():
    # s1 = 30%, s2 = 20%: D12 = 20/70, D21 = 30/80; m1 = 0.4, m2 = 0.5, P2/P1 = 1.5
    got = screens.cmcr_screen(30, 20, 0.4, 0.5, price_ratio=1.5)
    assert got["value_1"] == pytest.approx(_cmcr_matrix(0.4, 0.5, 2 / 7, 3 / 8, 1.5), rel=1e-12)
    assert got["value_2"] == pytest.approx(_cmcr_matrix(0.5, 0.4, 3 / 8, 2 / 7, 1 / 1.5), rel=1e-12)
    # one margin missing: not computable, or a sensitivity with equal margins at each end of the range
    assert screens.cmcr_screen(30, 20, 0.4, None)["verdict"] == "not computable (no cited margin for firm 2)"
    sens = screens.cmcr_screen(30, 20, None, None, margin_range=(0.2, 0.6))
    assert sens["value_1"] is None and sens["low"] == pytest.approx(screens.cmcr(0.2, 0.2, 2 / 7, 3 / 8))
    assert sens["high"] == pytest.approx(screens.cmcr(0.6, 0.6, 2 / 7, 3 / 8))
    assert "firm 1 and firm 2" in sens["verdict"]
    one = screens.cmcr_screen(30, 20, 0.4, None, margin_range=(0.2, 0.6))       # the cited margin is kept
    assert one["low"] == pytest.approx(screens.cmcr(0.4, 0.2, 2 / 7, 3 / 8))
    assert one["high"] == pytest.approx(screens.cmcr(0.4, 0.6, 2 / 7, 3 / 8))


def test_critical_recapture_on_a_worked_example():
    # upstream margin 60% on a $10 input; downstream margin 50% on a $30 product: 6 / 15 = 0.4
    assert screens.critical_recapture(0.6, 10, 0.5, 30) == pytest.approx(0.4)
    # actual recapture with shares: the integrated firm 30%, the foreclosed rival 20%: 30 / 80
    assert screens.share_recapture(30, 20) == pytest.approx(0.375)


def test_effective_dhhi_of_an_input_foreclosure_on_a_worked_example():
    """Downstream D 30%, its rival R 20%; the upstream supplier of R owns all of D (a vertical
    merger), and half of its pricing pressure on the input reaches R's price.

    vGUPPI_u = D_RD m_D P_D / w with D_RD = 30 / 80 = 0.375, m_D 0.5, P_D 3, w 1: 0.5625. The
    pressure on R's price (P_R 3) is 0.5 x 0.5625 x 1 / 3 = 0.09375, which is the MGUPPI of a
    profit weight kappa_RD = 0.5: 0.5 x 0.375 x 0.5 = 0.09375. Its MHHI delta: 0.5 x 20 x 30 =
    300 points. At the ceiling (pass-through 1, sole supplier) 600: half the horizontal ΔHHI
    2 x 30 x 20 = 1,200, since only R's price is pushed."""
    from riskmodels.concentration import delta_hhi

    v_guppi_u = screens.share_recapture(30, 20) * 0.5 * 3 / 1
    assert v_guppi_u == pytest.approx(0.5625)
    assert 0.5 * v_guppi_u * 1 / 3 == pytest.approx(screens.mguppi(0.5, 20, 30, 0.5)) == pytest.approx(0.09375)
    assert screens.effective_dhhi(1.0, 30, 20, pass_through=0.5) == pytest.approx(300)
    assert screens.effective_dhhi(1.0, 30, 20) == pytest.approx(600) == pytest.approx(delta_hhi([30, 20, 50], [0, 1]) / 2)
    # a minority stake scales the weight: 23.5% of D, R buying 60% of its input from U, 0.5 through
    assert screens.effective_dhhi(0.235, 27, 40, 0.5, 0.6) == pytest.approx(0.235 * 0.5 * 0.6 * 27 * 40)
    assert screens.effective_dhhi(0.0, 30, 20) == 0.0
    for kwargs, name in [({"stake": 1.2}, "stake"), ({"pass_through": -0.1}, "pass_through"),
                         ({"share_down_pct": 70}, "share_down_pct \\+ share_rival_pct")]:
        args = {"stake": 1.0, "share_down_pct": 30, "share_rival_pct": 40, **kwargs}
        with pytest.raises(ValueError, match=name):
            screens.effective_dhhi(**args)


def test_a_guppi_threshold_calibrated_to_the_2023_delta_hhi_bound():
    """ΔHHI 100 = 2 s^2 for two equal firms: s = sqrt(50) = 7.0711%; their GUPPI at margin 1 with
    share-proportional diversion s / (1 - s) = 0.070711 / 0.929289 = 0.076091."""
    s = 50 ** 0.5
    assert screens.guppi_from_delta(100) == pytest.approx(0.0760911, rel=1e-6)
    assert screens.guppi_from_delta(100) == pytest.approx(screens.guppi(s, s, 1.0))
    from riskmodels.concentration import delta_hhi

    assert delta_hhi([s, s, 100 - 2 * s], [0, 1]) == pytest.approx(100)
    # margin and recapture scale it (mergeron's default recapture 0.855: 0.0651 before its rounding)
    assert screens.guppi_from_delta(100, margin=0.5, recapture=0.855) == pytest.approx(0.5 * 0.855 * 0.0760911, rel=1e-6)
    cal = [x for x in CFG["unilateral"]["guppi_thresholds"] if "calibrate_delta" in x]
    assert len(cal) == 1 and cal[0]["value"] == pytest.approx(0.0760911, rel=1e-6) and "2023" in cal[0]["source"]
    with pytest.raises(ValueError, match="delta_points"):
        screens.guppi_from_delta(0)


def test_a_stake_with_no_margin_data_is_not_computable():
    out = screens.guppi_screen(30, 20, margin_other=None, kappa=0.3, config=CFG)
    assert out["value"] is None and out["verdict"] == "not computable (no cited margin)"
    sens = screens.guppi_screen(30, 20, margin_other=None, kappa=1.0, margin_range=(0.2, 0.6), config=CFG)
    assert sens["value"] is None and sens["low"] == pytest.approx(0.4 / 7) and sens["high"] == pytest.approx(1.2 / 7)
    done = screens.guppi_screen(30, 20, margin_other=0.4, config=CFG)       # 11.43%: above 5, 2.5 and 1.5
    assert done["value"] == pytest.approx(0.8 / 7) and "above 5%, 2.5%, 1.5%" in done["verdict"]


@pytest.mark.parametrize("call, name", [
    (lambda: screens.guppi(120, 20, 0.4), "share_self_pct"),
    (lambda: screens.guppi(30, 80, 0.4), "share_self_pct + share_other_pct"),
    (lambda: screens.guppi(30, 20, 1.4), "margin_other"),
    (lambda: screens.guppi(30, 20, 0.4, price_ratio=0), "price_ratio"),
    (lambda: screens.mguppi(1.2, 30, 20, 0.4), "kappa"),
    (lambda: screens.cmcr(0.4, "x", 0.2, 0.2), "margin_2"),
    (lambda: screens.cmcr(1.0, 0.4, 0.2, 0.2), "margin_1"),
    (lambda: screens.critical_recapture(0.6, 10, 0.0, 30), "margin_down"),
    (lambda: screens.control_class(30, ["golden_share"], "uk", CFG), "rights"),
    (lambda: screens.control_class(30, [], "fr", CFG), "jurisdiction"),
    (lambda: screens.control_class(130, [], "uk", CFG), "votes_pct"),
])
def test_bad_inputs_raise_a_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name.replace("+", r"\+")):
        call()


def cls(votes, rights=(), j="uk", capital=None):
    return screens.control_class(votes, list(rights), j, CFG, capital_pct=capital)["class"]


def test_uk_material_influence_boundaries():
    assert cls(50) == "material influence presumed" and cls(50.01) == "de jure control"     # a majority: > 50
    assert cls(25) == "material influence less likely"                                       # "more than 25%"
    assert cls(25.01) == "material influence presumed"
    assert cls(15, ["board_seat"]) == "material influence possible"                          # "from 15%"
    assert cls(14.99, ["board_seat"]) == "material influence possible (exceptional below 15%)"
    assert cls(14.99) == "material influence unlikely"
    assert screens.control_class(26, [], "uk", CFG)["regime"] == "rights"
    assert screens.control_class(None, [], "uk", CFG)["class"] == screens.UNKNOWN
    # undisclosed votes with a board seat: the seat alone gives a class at no votes, a floor
    floor = screens.control_class(None, ["board_seat"], "uk", CFG)
    assert floor["class"] == screens.AT_LEAST + "material influence possible (exceptional below 15%)"
    assert floor["regime"] == "rights"
    assert screens.control_class(None, ["board_seat"], "eu", CFG)["class"] == screens.UNKNOWN   # sole control open
    assert screens.control_class(None, ["veto_budget"], "eu", CFG)["class"].endswith("decisive influence (joint control)")
    # the table gives the same floors, row by row
    t = screens.stake_controls(pd.DataFrame({"as_of": ["2026-01-01"] * 2, "investor_id": ["a", "b"],
                                             "investee_id": ["x", "x"], "stake_pct": [None, None],
                                             "voting": ["unknown"] * 2, "board_seat": ["yes", "no"]}), CFG)
    t = t.set_index(["investor_id", "jurisdiction"])["control_class"]
    assert t[("a", "uk")] == floor["class"] and t[("b", "uk")] == screens.UNKNOWN
    assert t[("a", "us")] == screens.AT_LEAST + "passive-investment exemption unavailable (board rights: not solely for investment)"


def test_eu_germany_and_us_boundaries():
    assert cls(50, j="eu") == "no jurisdiction (non-controlling minority)" and cls(50.01, j="eu") == "sole control"
    assert cls(5, ["veto_business_plan"], j="eu") == "decisive influence (joint control)"
    assert cls(25, j="de") == "concentration (25% of capital or votes)"                    # "reaching" 25%
    assert cls(24.99, j="de") == "no concentration"
    assert cls(0, j="de", capital=25) == "concentration (25% of capital or votes)"        # capital alone counts
    assert cls(None, j="de", capital=30) == "concentration (25% of capital or votes)"
    assert cls(None, j="de", capital=10) == screens.UNKNOWN
    assert cls(10, j="us") == "passive-investment exemption available (10% of votes or less)"   # "10% or less"
    assert cls(10.01, j="us") == "HSR review possible (above 10% of votes)"
    assert cls(10, ["board_seat"], j="us").startswith("passive-investment exemption unavailable")
    marks = {j: screens.control_class(5, [], j, CFG)["verified"] for j in screens.JURISDICTIONS}
    assert marks == {"uk": "unverified", "eu": "unverified", "de": "unverified", "us": "primary"}
    # HSR's control: "50 percent or more" of the votes (16 CFR 801.1(b)), a rule of its own text and mark
    at = screens.control_class(50, [], "us", CFG)
    assert at["class"].startswith("control (50% or more") and at["regime"] == "full"
    assert at["verified"] == "unverified" and "801.1(b)" in at["source"]
    assert cls(49.99, j="us") == "HSR review possible (above 10% of votes)"
    # GWB s.37(1) no. 3 was read in the statute's text; the classes resting on no. 4 were not
    assert screens.control_class(25, [], "de", CFG)["verified"] == "primary"
    assert screens.control_class(5, ["board_seat"], "de", CFG)["verified"] == "unverified"
    assert "no. 4" in screens.control_class(5, [], "de", CFG)["source"]
    table = screens.stake_controls(pd.DataFrame({
        "as_of": ["2026-01-01"] * 2, "investor_id": ["a", "b"], "investee_id": ["x", "x"], "stake_pct": [50, 5],
        "voting": ["yes", "yes"]}), CFG).query("jurisdiction == 'us'")
    assert table["verified"].tolist() == ["unverified", "primary"]
    assert "801.1(b)" in table["source"].iloc[0] and "802.9" in table["source"].iloc[1]


def test_the_jurisdictional_mhhi_of_a_market_reads_its_own_jurisdictions():
    """A market inside one jurisdiction takes that jurisdiction's classes: with a 50% voting stake
    (full control for GWB s.37 and HSR, "material influence presumed" under CMA2, no EU control
    without vetoes), a UK copy of a market differs from the worldwide one; each equals a run whose
    only jurisdictions are its own."""
    import datetime as dt
    import warnings

    from riskmodels.config import load_yaml
    from riskmodels.ownership import ownership_scores

    read = lambda name: pd.read_csv(ROOT / "data" / f"{name}.csv")  # noqa: E731
    shares, stakes, holders, entities = (read(n) for n in ("market_shares", "stake_rights", "institutional_holders",
                                                            "entities"))
    one = shares[shares["market_id"] == "model.menlo.us-ent-api.spend"]
    shares = pd.concat([one.assign(market_id=m) for m in ("m.uk", "m.eu", "m.us", "m.ww")], ignore_index=True)
    geo = {"m.uk": "UK", "m.eu": "EU", "m.us": "US", "m.ww": "worldwide"}
    # a hypothetical investor with half of Anthropic's votes and a non-voting 10% of OpenAI, known
    # before every period of the market (so Anthropic's controller cares about OpenAI's profit)
    extra = stakes.iloc[[0, 0]].assign(as_of="2020-01-01", investor_id="acme", investee_id=["anthropic", "openai"],
                                       stake_pct=[50, 10], voting=["yes", "no"], board_seat="no", board_observer="no",
                                       consultation_or_info_rights="no", ref_row=[len(stakes) + 1, len(stakes) + 2])
    stakes = pd.concat([stakes, extra], ignore_index=True)
    jm = CFG["jurisdictional_mhhi"]
    base = {**load_yaml(ROOT / "config" / "ownership.yaml")}
    cfg = {**base, "jurisdictional": {"control": CFG["control"], "jurisdictions": jm["jurisdictions"],
                                      "by_geography": jm["by_geography"]}}
    run = dt.date(2026, 12, 1)

    def jur(frame, c, g=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mh = ownership_scores(frame, stakes, holders, entities, run, c, geography=g)[0]
        return mh[mh["regime"] == "jurisdictional"].set_index(["market_id", "period"])

    got = jur(shares, cfg, geo)
    assert got["jurisdictions"].groupby(level=0).first().to_dict() == {
        "m.eu": "eu,de", "m.uk": "uk", "m.us": "us", "m.ww": "uk,eu,de,us"}
    last = got.groupby(level=0)["mhhi"].last()
    assert last["m.uk"] != pytest.approx(last["m.ww"], abs=1e-6)     # rights under CMA2, full elsewhere
    assert last["m.us"] == pytest.approx(last["m.ww"], abs=1e-9)     # HSR control at 50%: full, as the strongest
    for m, js in (("m.uk", ["uk"]), ("m.eu", ["eu", "de"]), ("m.us", ["us"]), ("m.ww", jm["jurisdictions"])):
        alone = jur(shares[shares["market_id"] == m],
                    {**base, "jurisdictional": {"control": CFG["control"], "jurisdictions": js}})
        np.testing.assert_allclose(got.loc[m, "mhhi"].to_numpy(), alone.loc[m, "mhhi"].to_numpy(), atol=1e-9)
    # the other regimes do not depend on the jurisdictions: every copy equals the others
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mh = ownership_scores(shares, stakes, holders, entities, run, cfg, geography=geo)[0]
    other = mh[mh["regime"] != "jurisdictional"].pivot_table(index=["period", "regime"], columns="market_id",
                                                              values="mhhi")
    assert (other.max(axis=1) - other.min(axis=1)).max() < 1e-9
    assert mh.loc[mh["regime"] != "jurisdictional", "jurisdictions"].isna().all()
    with pytest.raises(ValueError, match="by_geography"):
        screens.market_jurisdictions(shares["market_id"], geo, {**cfg["jurisdictional"], "by_geography": {"UK": ["fr"]}})


def test_the_snapshots_partnerships_per_jurisdiction():
    stakes = pd.read_csv(ROOT / "data" / "stake_rights.csv")
    t = screens.stake_controls(stakes, CFG)
    assert len(t) == 4 * len(stakes) and t["verified"].isin(["primary", "unverified"]).all()

    def one(inv, inee, as_of, j):
        row = t[(t.investor_id == inv) & (t.investee_id == inee) & (t.as_of.astype(str) == as_of) & (t.jurisdiction == j)]
        assert len(row) == 1, (inv, inee, as_of, j)
        return row.iloc[0]["control_class"]

    # the OpenAI Foundation's 26% of OpenAI Group PBC, voting, with the board: presumed in the UK
    assert one("openai-foundation", "openai", "2025-10-28", "uk") == "material influence presumed"
    assert one("openai-foundation", "openai", "2025-10-28", "us") == "HSR review possible (above 10% of votes)"
    # Microsoft's 27% after the recapitalisation, votes undisclosed: unknown, except in Germany (capital)
    assert one("microsoft", "openai", "2025-10-28", "uk") == screens.UNKNOWN
    assert one("microsoft", "openai", "2025-10-28", "de") == "concentration (25% of capital or votes)"
    # Amazon's non-voting 21% of Anthropic: no control anywhere, no concentration in Germany
    assert one("amazon", "anthropic", "2025-09-30", "uk") == "material influence unlikely"
    assert one("amazon", "anthropic", "2025-09-30", "de") == "no concentration"
    # a scalar call gives the same class as the vectorised table, row by row
    for r in t.sample(60, random_state=0).itertuples():
        rights = [x for x in r.rights.split(";") if x]
        votes = None if np.isnan(r.votes_pct) else r.votes_pct
        assert screens.control_class(votes, rights, r.jurisdiction, CFG, capital_pct=r.stake_pct)["class"] \
            == r.control_class


def test_the_daily_screens_table_on_the_snapshot(workspace):
    import datetime as dt

    from riskmodels import pipeline, store

    d = dt.date(2025, 10, 29)
    pipeline.run(d)
    every = store.read_sql("SELECT * FROM screens WHERE run_date = :d", {"d": d})
    t = every[every["screen"].str.startswith("control.")]
    assert set(t["screen"]) == {"control.uk", "control.eu", "control.de", "control.us"}
    assert (t["subject_type"] == "relationship").all()
    assert (t["subject_id"] == t["investor_id"] + "->" + t["investee_id"]).all()
    assert (t.groupby(["investor_id", "investee_id"]).size() == 4).all()         # one row per screen
    assert t["verdict"].notna().all() and t["verified"].isin(["primary", "unverified"]).all()
    row = t.set_index(["investor_id", "investee_id", "screen"])
    assert row.loc[("openai-foundation", "openai", "control.uk"), "verdict"] == "material influence presumed"
    assert row.loc[("openai-foundation", "openai", "control.uk"), "regime"] == "rights"
    # Amazon's 21% non-voting as of 2025-09-30 was published on 2025-12-12 (Breakingviews): not known
    # yet, so its latest known row is 2025-07-09 (stake undisclosed)
    assert row.loc[("amazon", "anthropic", "control.uk"), "as_of"] == "2025-07-09"
    assert row.loc[("amazon", "anthropic", "control.uk"), "verdict"] == screens.UNKNOWN
    # Microsoft's 2025-10-28 row leaves the votes unknown: unknown, not carried over from earlier rows
    assert row.loc[("microsoft", "openai", "control.uk"), "verdict"] == screens.UNKNOWN
    assert row.loc[("microsoft", "openai", "control.de"), "verdict"] == "concentration (25% of capital or votes)"
    # nothing from after the run date
    assert not (t["as_of"] > "2025-10-29").any()
    # reruns are idempotent
    # durable dominance per (series, firm) at >= 30% in the latest period (Guideline 6)
    dom = every[every["screen"] == "durable_dominance"].set_index("subject_id")
    assert (dom["subject_type"] == "firm").all() and (dom["threshold"] == 8).all()
    # Gartner IaaS: AWS 2022FY and 2023FY at or above 30% -> 8 quarters; Synergy: 29% in 2025Q1
    # breaks the chain, 30% in 2025Q2 restarts it (>= 30, not > 30)
    assert dom.loc["aws@cloud.gartner-iaas.ww", "value"] == 8
    assert dom.loc["aws@cloud.gartner-iaas.ww", "verdict"].startswith("durably dominant")
    assert dom.loc["aws@cloud.synergy.ww", "value"] == 1 and "not yet durable" in dom.loc["aws@cloud.synergy.ww", "verdict"]
    assert dom.loc["aws@cloud.synergy.ww", "period"] == "2025Q2"
    assert dom.loc["aws@cloud.canalys-revised.ww", "verdict"].startswith("not assessed (stale series)")
    assert not dom.index.str.contains(r"\.fcst").any()          # forecasts are not shares held
    pipeline.run(d)
    again = store.read_sql("SELECT * FROM screens WHERE run_date = :d", {"d": d})
    assert len(again) == len(every)


# ---------------------------------------------------------------- durable dominance, entrenchment
def _quarters(start_year: int, n: int) -> list[str]:
    return [f"{start_year + i // 4}Q{i % 4 + 1}" for i in range(n)]


def _series(shares: list[float], market="m.q", entity="d", periods=None) -> pd.DataFrame:
    periods = periods or _quarters(2023, len(shares))
    return pd.DataFrame({"market_id": market, "period": periods, "entity_id": entity, "share_pct": [float(x) for x in shares]})


def test_durable_dominance_counts_an_unbroken_chain_at_30_or_more_ending_now():
    cfg = screens.screens_config()
    # exactly 30% for 8 quarters: ">= 30" holds at the boundary, and 8 quarters are durable
    d = screens.durable_dominance(_series([30.0] * 8), None, cfg).iloc[0]
    assert d["quarters"] == 8 and d["durable"] and d["first_period"] == "2023Q1" and d["period"] == "2024Q4"
    # 29.99% in one quarter breaks the chain: only the 4 quarters after it count
    d = screens.durable_dominance(_series([40] * 3 + [29.99] + [40] * 4), None, cfg).iloc[0]
    assert d["quarters"] == 4 and not d["durable"] and d["first_period"] == "2024Q1"
    # a missing quarter breaks it too (no interpolation across a gap)
    gap = _series([40] * 8).drop(index=2)
    assert screens.durable_dominance(gap, None, cfg).iloc[0]["quarters"] == 5
    # below the share in the latest period: no row at all, however long it was dominant before
    assert screens.durable_dominance(_series([60] * 9 + [20]), None, cfg).empty
    # two fiscal years at 35% are 8 quarters
    fy = screens.durable_dominance(_series([35, 35], periods=["2023FY", "2024FY"]), None, cfg).iloc[0]
    assert fy["quarters"] == 8 and fy["durable"]
    # a stale series is not assessed
    conc = pd.DataFrame({"market_id": "m.q", "period": _quarters(2023, 8), "fresh": [True] * 7 + [False]})
    st = screens.durable_dominance(_series([50] * 8), conc, cfg).iloc[0]
    assert not st["durable"] and st["verdict"] == "not assessed (stale series)"
    # a forecast, and a period that has not ended by the run date, are not shares held
    fc = _series([50] * 8).assign(estimate_type=["analyst estimate"] * 7 + ["forecast"])
    assert screens.durable_dominance(fc, None, cfg).iloc[0]["quarters"] == 7
    assert screens.durable_dominance(_series([50] * 8), None, cfg, run_date="2024-10-01").iloc[0]["quarters"] == 7


def test_entrenchment_flags_stakes_in_fast_growing_rivals_and_deals_with_suppliers_of_rivals():
    cfg = screens.screens_config()
    periods = _quarters(2023, 8)
    shares = pd.concat([
        _series([45] * 8, entity="d-cloud"),
        _series([10, 10, 10, 10, 12, 13, 14, 16], entity="fast"),     # +6 points over the last 4 quarters
        _series([20, 20, 20, 20, 20, 20, 19, 18], entity="slow"),     # shrinking rival
    ], ignore_index=True)
    dom = screens.durable_dominance(shares, None, cfg)
    assert dom.set_index("entity_id").loc["d-cloud", "durable"]
    group = {"d-cloud": "d-group"}
    inv = pd.DataFrame({"date": ["2024-11", "2024-12", "2024-12"], "investor_id": ["d-group", "d-group", "other"],
                        "investee_id": ["fast", "slow", "fast"], "ref_file": "investments.csv", "ref_row": [1, 2, 3],
                        "source": "s"})
    com = pd.DataFrame({"date": ["2024-06", "2024-07", "2024-08"], "buyer_id": ["slow", "d-cloud", "d-cloud"],
                        "supplier_id": ["chips", "chips", "elsewhere"], "ref_file": "compute_commitments.csv",
                        "ref_row": [1, 2, 3], "source": "s"})
    ent = screens.entrenchment(dom, shares, inv, com, group, cfg)
    got = set(zip(ent["investor_id"], ent["investee_id"], ent["reason"].str.split(" ").str[0]))
    # the stake in the fast-growing rival; the deal with the chip maker that also supplies the rival
    assert got == {("d-group", "fast", "fast-growing"), ("d-cloud", "chips", "supplier")}, got
    assert (ent["market_id"] == "m.q").all() and (ent["dominant_id"] == "d-cloud").all()
    # a +4.99 point rise is not fast-growing (>= 5 points in 12 months)
    slower = shares.copy()
    slower.loc[(slower["entity_id"] == "fast") & (slower["period"] == periods[-1]), "share_pct"] = 14.99
    assert "fast" not in set(screens.entrenchment(screens.durable_dominance(slower, None, cfg), slower, inv, com, group,
                                                  cfg)["investee_id"])
    # no durable dominance, no flag
    assert screens.entrenchment(dom.assign(durable=False), shares, inv, com, group, cfg).empty


def test_eu_safe_harbour_needs_share_below_30_and_hhi_below_2000_in_every_market_concerned():
    cfg = screens.screens_config()
    conc = pd.DataFrame({"market_id": ["up", "down", "down2", "old"], "period": ["2025FY"] * 4,
                         "period_end": pd.to_datetime(["2025-12-31"] * 4), "hhi": [1999.0, 1500.0, 2000.0, 100.0],
                         "fresh": [True, True, True, False]})
    shares = pd.DataFrame({"market_id": ["up", "up", "down", "down2", "old"], "period": "2025FY",
                           "entity_id": ["chip", "chip2", "lab", "lab2", "chip"],
                           "share_pct": [29.99, 30.0, 20.0, 10.0, 90.0]})
    pairs = pd.DataFrame({"investor_id": ["chip", "chip2", "chip", "chip-parent-unit"],
                          "investee_id": ["lab", "lab", "lab2", "lab"]})
    group = {"chip-parent-unit": "chip"}
    out = screens.eu_safe_harbour(pairs, shares, conc, group, cfg).set_index(["investor_id", "investee_id"])
    # 29.99% (< 30) with HHI 1,999 (< 2,000) upstream, 20% with HHI 1,500 downstream: inside;
    # the stale series "old" (chip at 90%) is not a market concerned now
    assert out.loc[("chip", "lab"), "inside"] and out.loc[("chip", "lab"), "markets"] == 2
    # exactly 30% is not below 30%
    assert not out.loc[("chip2", "lab"), "inside"] and out.loc[("chip2", "lab"), "worst"] == "up"
    # an HHI of exactly 2,000 is not below 2,000, whatever the share
    assert not out.loc[("chip", "lab2"), "inside"] and out.loc[("chip", "lab2"), "worst"] == "down2"
    # parties are compared by group: a unit of the chip maker counts the parent's shares
    assert out.loc[("chip-parent-unit", "lab"), "max_share_pct"] == pytest.approx(29.99)
    assert "outside the safe harbour (down2: share 10%, HHI 2,000)" == out.loc[("chip", "lab2"), "verdict"]


def test_the_antitrust_explanation_cites_the_screens(workspace):
    import datetime as dt

    from riskmodels import pipeline, store

    d = dt.date(2025, 10, 29)
    pipeline.run(d)
    t = store.read_sql("SELECT subject_id, explanation FROM antitrust_scores WHERE run_date = :d AND "
                       "subject_type = 'relationship'", {"d": d}).set_index("subject_id")["explanation"]
    text = t.loc["microsoft->openai"]
    # the votes of Microsoft's latest stake row are unknown; its 27% capital meets GWB s.37(1) no. 3
    assert "Screens: control UK unknown (votes not disclosed)" in text and "(unverified rules:" in text
    assert "DE concentration (25% of capital or votes)" in text
    assert "eu non horizontal:" in t.loc["nvidia->openai"]


def test_screens_summary_without_any_stake_row():
    # no stake rows (an empty stake_rights.csv): only the non-control screens are cited
    t = pd.DataFrame({"subject_type": ["relationship", "relationship"], "investor_id": ["a", "a"],
                      "investee_id": ["b", "c"], "screen": ["eu_non_horizontal", "entrenchment"],
                      "verdict": ["inside the safe harbour", "flag: x"], "verified": ["unverified", "primary"]})
    got = screens.screens_summary(t)
    assert got[("a", "b")] == "Screens: eu non horizontal: inside the safe harbour (unverified rules: eu_non_horizontal)."
    assert got[("a", "c")] == "Screens: entrenchment: flag: x."
    assert screens.screens_summary(t.iloc[0:0]) == {}


# ---------------------------------------------------------------- unilateral screens, daily
def _links(rows):
    cols = ["owner_id", "firm_id", "kind", "beta", "votes", "gamma_rights", "status"]
    return pd.DataFrame(rows, columns=cols)


def test_daily_mguppi_on_a_worked_example():
    """a holds 20% of b (votes 20%, rights weight 0.2). Matrices: others@a controls a fully and owns
    20% of b through a, so K_ab = 1 x 0.2, K_aa = 1 and kappa_ab = 0.2. Shares a 40%, b 20%, c 40%:
    D_ab = 20 / (100 - 40) = 1/3. With b's margin 0.5 cited: MGUPPI = 0.2 x 1/3 x 0.5 = 1/30 (3.33%:
    above 2.5% and 1.5%, below 5%). Without a margin: the sensitivity 0.2 x 1/3 x [0.2, 0.6]."""
    cfg = screens.screens_config()
    conc = pd.DataFrame({"market_id": ["m", "elsewhere"], "period": ["2025FY"] * 2,
                         "period_end": pd.to_datetime(["2025-12-31"] * 2), "hhi": [3600.0, 10000.0],
                         "fresh": [True, True]})
    shares = pd.DataFrame({"market_id": ["m", "m", "m", "elsewhere"], "period": "2025FY",
                           "entity_id": ["a", "b", "c", "x"], "share_pct": [40.0, 20.0, 40.0, 100.0]})
    links = _links([("a", "b", "stake", 0.2, 0.2, 0.2, "included"),
                    ("a", "x", "stake", 0.3, 0.3, 0.3, "included"),        # x sells elsewhere: no overlap
                    ("fund", "b", "holder", 0.05, 0.05, 0.05, "included")])  # passive holders are no relationship
    cited = {**cfg, "unilateral": {**cfg["unilateral"], "margins": [
        {"entity_id": "b", "margin": 0.5, "source": "worked example", "label": "assumption"}]}}
    u = screens.unilateral_screens(links, shares, conc, {}, cited)
    assert len(u) == 1 and (u.investor_id.item(), u.investee_id.item(), u.market_id.item()) == ("a", "b", "m")
    assert u.kappa.item() == pytest.approx(0.2)       # the fund holds b, not a: K_aa stays 1
    assert u.diversion.item() == pytest.approx(1 / 3) and u.mguppi.item() == pytest.approx(1 / 30)
    assert u.margin_source.item() == "worked example"
    verdict = screens._guppi_verdicts(u, cfg["unilateral"]["guppi_thresholds"]).item()
    assert verdict.startswith("on a's price in m 2025FY (kappa 0.200, diversion 0.333): 3.33%: above 2.5%, 1.5%")
    # no cited margin: a range over the configured sensitivity, never a point
    u = screens.unilateral_screens(links, shares, conc, {}, cfg)
    assert np.isnan(u.mguppi.item()) and u.low.item() == pytest.approx(0.2 / 3 * 0.2)
    assert u.high.item() == pytest.approx(0.2 / 3 * 0.6)
    assert "sensitivity only 1.33%-4.00%" in screens._guppi_verdicts(u, cfg["unilateral"]["guppi_thresholds"]).item()
    # a filing whose segment made an operating loss gives no margin to screen with
    loss = pd.DataFrame({"entity_id": ["b"], "margin": [-0.07], "source": ["SEC EDGAR 10-K x"], "label": ["filing"]})
    u = screens.unilateral_screens(links, shares, conc, {}, cfg, margins=loss)
    assert np.isnan(u.mguppi.item()) and "operating loss" in u.margin_source.item()
    # the filing's margin wins over a config assumption for the same firm
    gain = loss.assign(margin=[0.3])
    assert screens.unilateral_screens(links, shares, conc, {}, cited, margins=gain).mguppi.item() == \
        pytest.approx(0.2 / 3 * 0.3)
    # a stale series is no market concerned now
    assert screens.unilateral_screens(links, shares, conc.assign(fresh=False), {}, cfg).empty


def test_the_daily_mguppi_rows_on_the_snapshot(workspace):
    import datetime as dt

    from riskmodels import pipeline, store

    d = dt.date(2026, 12, 1)
    pipeline.run(d)
    s = store.read_sql("SELECT * FROM screens WHERE run_date = :d AND screen = 'mguppi'", {"d": d}).set_index(
        "subject_id")
    # Alphabet's stake in Anthropic: both sell in Menlo's US enterprise API spend series; no
    # filing or analyst gives Anthropic's margin, so only the sensitivity range is shown
    row = s.loc["alphabet->anthropic"]
    assert row.market_id == "model.menlo.us-ent-api.spend"
    assert row.value is None or np.isnan(row.value)
    assert "sensitivity only" in row.verdict and row.verdict.startswith("MGUPPI on alphabet's price")
    assert row.threshold == 0.05 and "Sainsbury" in row.source and row.regime == "rights"
    # coordinated effects: the highest HHI of the series where both sell, against 1,800
    co = store.read_sql("SELECT * FROM screens WHERE run_date = :d AND screen = 'coordinated'", {"d": d}).set_index(
        "subject_id")
    c = co.loc["alphabet->anthropic"]
    hhi = store.read_sql("SELECT hhi FROM concentration WHERE run_date = :d AND market_id = :m AND period = :p",
                         {"d": d, "m": c.market_id, "p": c.period})["hhi"].iloc[0]
    assert c.value == pytest.approx(hhi) and c.threshold == 1800 and c.verdict.startswith("flag: " if hhi > 1800 else "no flag")
    assert set(co.index) == set(s.index)                           # one per relationship with an MGUPPI row
    # durable dominance on each concept's consensus (median across its series, year buckets):
    # Nvidia at a median 80% of data-centre accelerators in 2025FY, 30%+ since 2024FY -> 8 quarters
    cd = store.read_sql("SELECT * FROM screens WHERE run_date = :d AND screen = 'durable_dominance_concept'",
                        {"d": d}).set_index("subject_id")
    nv = cd.loc["nvidia@dc-accelerators.ww"]
    assert nv.value == 8 and nv.verdict.startswith("durably dominant") and nv.period == "2025FY"
    assert "median 80%" in nv.verdict and nv.market_id == "dc-accelerators.ww"
    assert "not yet durable" in cd.loc["anthropic@enterprise-llm-api", "verdict"]
    # the report's risk card for the pair shows it as its own row, cited
    from riskmodels.htmlreport import build_report

    text = build_report(d, workspace / "report").read_text()
    card = text.split("<div class='risk'><b>Alphabet Inc. → Anthropic PBC", 1)[1].split("<div class='risk'>", 1)[0]
    assert "<td>MGUPPI</td>" in card and "sensitivity only" in card and "Sainsbury" in card
    assert "<td>EU non-horizontal safe harbour</td>" in card
    assert "<td>Input foreclosure (critical recapture)</td>" in card
    # input foreclosure: Microsoft (Azure, which Anthropic buys from) holds a stake in OpenAI; in
    # Menlo's series OpenAI 27% and Anthropic 40%: OpenAI would win 27 / (100 - 40) = 45% of the
    # sales Anthropic lost; r* needs margins and w / P_D that no source gives here
    fc = store.read_sql("SELECT * FROM screens WHERE run_date = :d AND screen = 'critical_recapture'",
                        {"d": d}).set_index("subject_id")
    ms = fc.loc["microsoft->openai"]
    assert (ms.entity_id, ms.market_id) == ("anthropic", "model.menlo.us-ent-api.spend")
    assert ms.value == pytest.approx(27 / 60) and (ms.threshold is None or np.isnan(ms.threshold))
    assert "not computable: no cited supplier margin m_U, downstream margin m_D, price ratio w/P_D" in ms.verdict
    assert not fc.market_id.str.startswith("compute.").any()          # compute is the input, not the market
    # its effective ΔHHI: Microsoft's 23.5% of OpenAI (2026-02-27) as the weight on Anthropic's
    # price, pass-through and supply share at their ceiling 1: at most 0.235 x 40 x 27 = 253.8
    dh = store.read_sql("SELECT * FROM screens WHERE run_date = :d AND screen = 'effective_dhhi'",
                        {"d": d}).set_index("subject_id")
    ms = dh.loc["microsoft->openai"]
    assert ms.value == pytest.approx(0.235 * 40 * 27) and ms.threshold == 100 and ms.verified == "unverified"
    assert "an upper bound" in ms.verdict and "Moresi and Salop" in ms.source
    assert "<td>Input foreclosure (effective ΔHHI)</td>" in card
    assert "id='dominance-concepts'" in text and "dc-accelerators.ww" in text.split("id='dominance-concepts'")[1]


def test_input_foreclosure_critical_against_actual_recapture_on_a_worked_example():
    """U (upstream, group u) holds a stake in D; rival R buys compute from U. Downstream shares
    D 30%, R 20%: actual recapture 30 / (100 - 20) = 0.375. Margins m_U 0.6, m_D 0.5 and
    w / P_D = 1/3: r* = 0.6 x (1/3) / 0.5 = 0.4 > 0.375, so foreclosure would not pay."""
    shares = pd.DataFrame({"market_id": "m", "period": "2025FY", "entity_id": ["d", "r", "x"],
                           "share_pct": [30.0, 20.0, 50.0]})
    conc = pd.DataFrame({"market_id": ["m"], "period": ["2025FY"], "hhi": [3800.0], "layer": ["model"],
                         "fresh": [True]})
    frames = {"stake_rights": pd.DataFrame({"investor_id": ["u"], "investee_id": ["d"]}),
              "investments": pd.DataFrame(columns=["investor_id", "investee_id"]),
              "compute_commitments": pd.DataFrame({"buyer_id": ["r"], "supplier_id": ["u-cloud"]})}
    group = {"u-cloud": "u"}
    cfg = {**CFG, "unilateral": {**CFG["unilateral"], "margins": [
        {"entity_id": "u-cloud", "margin": 0.6, "source": "test", "label": "assumption"},
        {"entity_id": "d", "margin": 0.5, "source": "test", "label": "assumption"}]},
        "vertical": {**CFG["vertical"], "critical_recapture": {**CFG["vertical"]["critical_recapture"],
                                                               "price_ratio": 1 / 3}}}
    out = screens.input_foreclosure_screens(frames, shares, conc, group, cfg).iloc[0]
    assert (out.investor_id, out.investee_id, out.rival_id) == ("u", "d", "r")
    assert out.actual == pytest.approx(screens.share_recapture(30, 20)) == pytest.approx(0.375)
    assert out.critical == pytest.approx(screens.critical_recapture(0.6, 1, 0.5, 3)) == pytest.approx(0.4)
    assert "below the critical recapture 40.0%" in out.verdict
    # without the price ratio the screen says what is missing instead of guessing
    none = {**cfg, "vertical": {**cfg["vertical"], "critical_recapture": CFG["vertical"]["critical_recapture"]}}
    row = screens.input_foreclosure_screens(frames, shares, conc, group, none).iloc[0]
    assert np.isnan(row.critical) and row.verdict.endswith("not computable: no cited price ratio w/P_D")
    # a rival in the investee's own group, or no commitment from the investor's group: no row
    assert screens.input_foreclosure_screens({**frames, "compute_commitments": frames["compute_commitments"].assign(
        supplier_id="other")}, shares, conc, group, cfg).empty
    # the effective ΔHHI: U holds 40% of D (ownership links as of the run date). Without cited
    # pass-through or supply share both are taken at 1: at most 0.4 x 20 x 30 = 240 points, post
    # 3,800 + 240 = 4,040, at this bound above the 2023 presumption (HHI > 1,800, ΔHHI > 100)
    links = pd.DataFrame({"owner_id": ["u"], "firm_id": ["d"], "kind": ["stake"], "beta": [0.4], "votes": [0.0],
                          "gamma_rights": [0.0], "status": ["included"]})
    fc = screens.input_foreclosure_screens(frames, shares, conc, group, cfg, links=links)
    assert fc.iloc[0].stake == pytest.approx(0.4)
    dh = screens.effective_dhhi_rows(fc, cfg).iloc[0]
    assert dh.dhhi == pytest.approx(screens.effective_dhhi(0.4, 30, 20)) == pytest.approx(240)
    assert dh.post_hhi == pytest.approx(4040) and dh.kappa == pytest.approx(0.4)
    assert "at this bound above the us-2023 presumption" in dh.verdict and "pass_through and supply_share" in dh.verdict
    # cited factors narrow it: 0.5 x 0.4 x 0.4 x 600 = 48 points, below the presumption
    cited = {**cfg, "vertical": {**cfg["vertical"], "effective_dhhi": {
        **cfg["vertical"]["effective_dhhi"], "pass_through": {"value": 0.5, "label": "assumption", "source": "test"},
        "supply_share": {"value": 0.4, "label": "assumption", "source": "test"}}}}
    dh = screens.effective_dhhi_rows(fc, cited).iloc[0]
    assert dh.dhhi == pytest.approx(48) and dh.verdict.endswith("below the us-2023 presumption")
    assert "pass_through: test" in dh.source
    # a stake whose % nobody published: no value, only the full-integration ceiling
    unknown = screens.effective_dhhi_rows(fc.assign(stake=np.nan), cfg).iloc[0]
    assert np.isnan(unknown.kappa) and "at full integration at most ΔHHI 600" in unknown.verdict
