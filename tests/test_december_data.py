"""December 2026 rows of the reference files in the shipped snapshot (scripts/build_snapshot.py):
each analyst series and denominator its own market, aggregates kept apart, sources dated only to
the year counted from the day they were compiled, and the figures as the sources give them."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, dtype=str, keep_default_na=False)


def test_series_and_denominators_are_kept_apart_in_the_snapshot():
    shares, markets = _csv("market_shares.csv"), _csv("markets.csv").set_index("market_id")
    # Canalys's August 2024 restatement is a series of its own: its 2022Q2 Amazon (34) contradicts the
    # pre-revision row (31) kept in cloud.canalys.ww
    q2 = shares[(shares.period == "2022Q2") & (shares.entity_id == "aws") & shares.market_id.str.startswith("cloud.canalys")]
    assert dict(zip(q2.market_id, q2.share_pct)) == {"cloud.canalys.ww": "31", "cloud.canalys-revised.ww": "34"}
    assert markets.loc["cloud.canalys-revised.ww", "analyst"] == "Canalys (revised series, Aug 2024)"
    # consumer chatbot web shares: three product-level markets, one per denominator
    chat = markets[markets.index.str.contains("chatbot|assistants")]
    assert sorted(chat.index) == ["model.momentic.top7-assistants-web.visits", "model.similarweb.chatbot-web.visits",
                                  "model.statcounter.chatbot-web.referrals"]
    assert (chat.layer == "model").all()
    sw = shares[shares.market_id == "model.similarweb.chatbot-web.visits"]
    assert set(sw.period) == {"2025-01-02", "2026-01-02", "2026-02"}
    assert set(sw[sw.period == "2026-01-02"].period_type) == {"day"}
    # groups of firms never become a firm: they are aggregates
    agg = _csv("market_aggregates.csv")
    assert {"GPU-based AI servers", "Chinese domestic vendors (all)",
            "Chinese open-weight models (Qwen, DeepSeek, Kimi and others)"} <= set(agg.raw_name)
    assert not shares.raw_name.isin(agg.raw_name).any()
    # adoption and a CEO's statement are not market shares
    other = _csv("market_other_metrics.csv")
    assert {"share of US businesses paying for provider (Ramp AI Index, card/bill-pay data)",
            "market share (CEO statement)"} <= set(other.metric)
    # December rows carry the day they were compiled; older rows do not
    assert set(shares.loc[shares.ref_file == "cloud_market_share.csv"].query("ref_row.astype('int') >= 120").compiled_on) \
        == {"2026-12-01"}
    assert set(shares.loc[shares.ref_file == "cloud_market_share.csv"].query("ref_row.astype('int') < 120").compiled_on) \
        == {""}


def test_deals_events_and_bases_of_the_december_rows():
    inv = _csv("investments.csv")
    sx = inv[(inv.investor_id == "spacex") & (inv.investee_id == "xai")].iloc[0]
    assert (sx.date, sx.amount_usd_bn, sx.amount_basis) == ("2026-02-02", "250", "reported")
    assert sx.instrument.startswith("all-stock acquisition")
    # a round reported as a total is the round's investors together, never one of them
    h = inv[inv.investee_id.eq("anthropic") & inv.date.eq("2026-05-28")].iloc[0]
    assert (h.investor_id, h.amount_usd_bn, h.amount_basis) == ("anthropic-series-h-investors", "65", "reported")
    ents = _csv("entities.csv").set_index("entity_id")
    assert ents.loc["anthropic-series-h-investors", "kind"] == "aggregate"
    com = _csv("compute_commitments.csv")
    basis = {(r.buyer_id, r.supplier_id, r.date): (r.amount_basis, r.power_basis) for r in com.itertuples()}
    assert basis[("microsoft", "nscale", "2025-10")] == ("reported", "")          # "approximately $23 billion"
    assert basis[("meta", "nebius", "2026-03-16")] == ("ceiling", "")             # "Up to $27B"
    assert basis[("meta", "amd", "2026-02-24")] == ("", "ceiling")                # "Up to 6 GW"; value in conflict
    ev = _csv("regulatory_events.csv").set_index("date")
    assert ev.loc["2026-06-25", "party_ids"] == "amazon;aws;microsoft;microsoft-azure"
    assert ev.loc["2025-06-06", "party_ids"] == "sector-generative-ai"           # a sector-wide study names no firm


def test_the_run_of_december_first_publishes_the_new_series(workspace):
    from riskmodels import pipeline, store

    d = dt.date(2026, 12, 1)
    pipeline.run(d)
    c = store.read_sql("SELECT market_id, period, hhi, attributed_pct, fresh FROM concentration WHERE run_date = :d",
                       {"d": d}).set_index(["market_id", "period"])
    # Omdia 2025Q4 (source dated only "2026", compiled 2026-12-01): 32² + 22² + 12² = 1,652, 66% attributed
    q4 = c.loc[("cloud.canalys.ww", "2025Q4")]
    assert q4.hhi == pytest.approx(1652.0) and q4.attributed_pct == pytest.approx(66.0)
    # Similarweb, 2 Jan 2026: 64.5² + 21.5² + 3.7² + 3.4² + 2.0² + 2.0² + 1.1² = 4,656.96
    assert c.loc[("model.similarweb.chatbot-web.visits", "2026-01-02"), "hhi"] == pytest.approx(4656.96)
    # IDC China 2025 cards: Nvidia 55, AMD 4 (domestic vendors, 41, are a group: unattributed)
    idc = c.loc[("accel.idc.china-ai-cards.units", "2025FY")]
    assert idc.hhi == pytest.approx(3041.0) and idc.attributed_pct == pytest.approx(59.0) and bool(idc.fresh)
    # a 2026 period is not known before 2026 ends (point in time): Bernstein's 2026 China forecast is not scored yet
    assert not any(m == "accel.bernstein.china-ai-processors.fcst" for m, _ in c.index)
