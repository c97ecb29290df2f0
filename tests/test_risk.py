"""Lock-in, circular financing and antitrust scores: each component on hand-checked inputs,
the loop finder on small graphs with known cycles, robustness, and the shipped data."""
from __future__ import annotations

import datetime as dt
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, published_store
from riskmodels import store
from riskmodels.antitrust import COMPONENTS, antitrust_scores, movement_flags, pca_weights, robustness
from riskmodels.circular import money_graph, round_trips
from riskmodels.config import load_yaml
from riskmodels.lockin import lockin_scores

CFG = load_yaml(ROOT / "config" / "risk.yaml")
ENT = pd.DataFrame([
    # entity_id, name, kind, layers, parent_id
    ("lab", "Lab", "firm", "model", None), ("lab2", "Lab Two", "firm", "model", None),
    ("cloudco", "CloudCo", "firm", "cloud", "bigco"), ("bigco", "BigCo", "firm", "investor", None),
    ("chipco", "ChipCo", "firm", "accelerator;investor", None), ("neo", "NeoCloud", "firm", "cloud", None),
    ("fund", "Fund", "fund manager", "investor", None),
], columns=["entity_id", "name", "kind", "layers", "parent_id"])


def commitments(rows):
    cols = ["date", "buyer_id", "supplier_id", "amount_usd_bn", "amount_basis", "power_gw", "power_basis",
            "term_years", "accelerator_family", "ref_row"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("amount_usd_bn", "power_gw", "term_years"):
        df[c] = pd.to_numeric(df[c])
    return df


def investments(rows):
    cols = ["date", "investor_id", "investee_id", "amount_usd_bn", "amount_basis", "stake_pct", "ref_row"]
    df = pd.DataFrame(rows, columns=cols)
    df["amount_usd_bn"] = pd.to_numeric(df["amount_usd_bn"])
    return df


STAKE_COLS = ["as_of", "investor_id", "investee_id", "stake_pct", "voting", "board_seat", "board_observer",
              "consultation_or_info_rights", "exclusivity_or_rofr", "notes", "ref_row"]

COM = commitments([
    ("2025-01", "lab", "cloudco", 60, "reported", None, None, 10, "Nvidia", 1),
    ("2025-02", "lab", "neo", 40, "reported", None, None, 5, None, 2),
    ("2025-03", "lab", "neo", 100, "ceiling", None, None, None, None, 3),      # "up to": never counted
    ("2025-04", "lab", "chipco", None, None, 2, "reported", None, "Nvidia", 4),
    ("2025-05", "lab2", "chipco", None, None, 3, "reported", None, "Nvidia", 5),
])
INV = investments([
    ("2024-01", "bigco", "lab", 10, "reported", None, 1),
    ("2024-02", "fund", "lab", 10, "reported", None, 2),
    ("2024-03", "chipco", "lab", 50, "ceiling", None, 3),
    ("2024-04", "chipco", "lab2", 1, "reported", None, 4),
])
STAKES = pd.DataFrame([
    ("2024-01", "bigco", "lab", 10, "no", "yes", None, None, "CloudCo is the exclusive cloud provider", "", 1),
], columns=STAKE_COLS)


def test_lockin_components_by_hand():
    out = lockin_scores(COM, INV, STAKES, ENT, CFG).set_index(["buyer_id", "layer"])
    cloud = out.loc[("lab", "cloud")]
    comp = json.loads(cloud["components"])
    # USD basis: cloudco 60, neo 40 (the 100 ceiling is left out) -> HHI 0.6^2 + 0.4^2
    assert cloud["basis"] == "usd" and comp["supplier_concentration"]["value"] == pytest.approx(0.52)
    assert cloud["top_supplier_id"] == "bigco" and cloud["top_supplier_share_pct"] == pytest.approx(60)
    assert cloud["ceiling_usd_bn"] == 100 and cloud["committed_usd_bn"] == 100
    # 60 of 100 known to run on Nvidia
    assert comp["accelerator_dependence"]["value"] == pytest.approx(0.6)
    # bigco (the cloud's parent) gave 10 of the 20 counted; chipco's 50 is a ceiling
    assert comp["equity_entanglement"]["value"] == pytest.approx(0.5)
    # 100 committed / 20 raised = 5x -> 0.5; USD-weighted term (60*10 + 40*5)/100 = 8 -> 0.8
    assert comp["contract_weight"]["value"] == pytest.approx(0.7 * 0.5 + 0.3 * 0.8)
    assert comp["exclusivity"]["value"] == 1.0
    w = CFG["lockin"]["weights"]
    expected = 100 * (w["supplier_concentration"] * 0.52 + w["accelerator_dependence"] * 0.6
                      + w["equity_entanglement"] * 0.5 + w["contract_weight"] * 0.59 + w["exclusivity"] * 1.0)
    assert cloud["score"] == pytest.approx(expected / sum(w.values()))
    assert "ceilings kept apart: $100bn" in cloud["explanation"]
    # accelerator layer: only GW known -> GW basis, one supplier
    acc = out.loc[("lab", "accelerator")]
    assert acc["basis"] == "gw" and json.loads(acc["components"])["supplier_concentration"]["value"] == 1.0
    # every model builder gets a row in every layer, with no score where nothing is known
    assert set(out.index) == {(b, lay) for b in ("lab", "lab2") for lay in ("cloud", "accelerator", "all")}
    assert np.isnan(out.loc[("lab2", "cloud"), "score"]) and "no compute commitment" in out.loc[("lab2", "cloud"), "explanation"]


def test_ended_exclusivity_does_not_count():
    ended = pd.concat([STAKES, pd.DataFrame([("2025-06", "bigco", "lab", None, "no", "yes", None, None,
                                              "Exclusivity ended: Lab may use any cloud", "", 2)], columns=STAKE_COLS)])
    comp = json.loads(lockin_scores(COM, INV, ended, ENT, CFG).set_index(["buyer_id", "layer"]).loc[("lab", "cloud"), "components"])
    assert comp["exclusivity"]["value"] == 0.0 and "ended 2025-06" in comp["exclusivity"]["facts"]


def test_money_graph_and_known_cycles():
    g = money_graph(INV, COM, ENT, CFG)
    # group-level nodes: cloudco -> bigco
    assert g.has_edge("bigco", "lab") and g.has_edge("lab", "bigco")
    assert g["lab"]["bigco"]["flows"]["spend"]["usd"] == 60
    assert g["lab"]["neo"]["flows"]["spend"]["usd"] == 40 and g["lab"]["neo"]["flows"]["spend"]["usd_ceiling"] == 100
    loops = round_trips(g).set_index("path")
    assert "bigco>lab>bigco" in loops.index                        # invest, then spend back
    direct = loops.loc["bigco>lab>bigco"]
    assert (direct["out_usd_bn"], direct["back_usd_bn"], direct["round_trip_ratio"]) == (10, 60, 6)
    assert "chipco>lab>chipco" in loops.index                      # ceiling out, GW back: no USD ratio
    c = loops.loc["chipco>lab>chipco"]
    assert pd.isna(c["out_usd_bn"]) and c["out_ceiling_usd_bn"] == 50 and pd.isna(c["round_trip_ratio"])


def _graph(edges):
    g = nx.DiGraph()
    for u, v, kind, usd in edges:
        g.add_edge(u, v, flows={kind: {"usd": usd, "usd_ceiling": None, "first_date": "2025", "last_date": "2025",
                                       "refs": [f"{u}{v}"], "n_deals": 1}})
    return g


def test_loop_finder_on_small_graphs():
    g = _graph([("n", "a", "equity", 10), ("a", "m", "spend", 30), ("m", "n", "supply", None),   # 3-hop with equity
                ("x", "y", "spend", 1), ("y", "x", "spend", 1),                                  # no equity: not a round trip
                ("p", "q", "equity", 1), ("q", "r", "spend", 1), ("r", "s", "spend", 1), ("s", "p", "spend", 1)])  # 4 hops
    loops = round_trips(g)
    assert loops["path"].tolist() == ["n>a>m>n"]
    row = loops.iloc[0]
    assert row["edge_kinds"] == "equity>spend>supply" and row["hops"] == 3 and pd.isna(row["back_usd_bn"])
    # rotation starts at the investor whatever the cycle's starting node
    g2 = _graph([("b", "a", "spend", 5), ("a", "b", "equity", 2)])
    assert round_trips(g2)["path"].tolist() == ["a>b>a"] and round_trips(g2)["round_trip_ratio"].item() == 2.5


def test_robustness_reports_stability_and_instability():
    w = np.array([0.5, 0.5])
    clear = robustness(np.array([[1.0, 1.0], [0.1, 0.1], [0.0, 0.0]]), w, 500, 50.0, 1)
    assert clear["rank"].tolist() == [1, 2, 3] and clear["rank_p05"][0] == clear["rank_p95"][0] == 1
    tied = robustness(np.array([[1.0, 0.0], [0.0, 1.0]]), w, 500, 50.0, 1)
    assert tied["rank_p05"][0] == 1 and tied["rank_p95"][0] == 2     # the instability is reported


def _reference_bands(x, weights, draws, concentration, seed, use):
    """Rank bands by the textbook route: every draw ranked with argsort, np.percentile over the
    first ``use`` draws."""
    w = np.random.default_rng(seed).dirichlet(concentration * weights / weights.sum(), size=draws).T[:, :use]
    scores = x @ w
    ranks = np.empty(scores.shape, dtype=np.int64)
    for j in range(use):
        ranks[np.argsort(-scores[:, j], kind="stable"), j] = np.arange(1, len(x) + 1)
    return np.percentile(ranks, 5, axis=1), np.percentile(ranks, 95, axis=1), ranks.std(axis=1)


def test_robustness_bands_equal_the_textbook_route_and_stop_only_when_stable():
    rng = np.random.default_rng(3)
    x, w = rng.random((300, 6)), np.array([0.3, 0.2, 0.15, 0.15, 0.1, 0.1])
    full = robustness(x, w, 800, 50.0, 7)
    p05, p95, std = _reference_bands(x, w, 800, 50.0, 7, 800)
    assert full["draws"] == 800
    np.testing.assert_allclose(full["rank_p05"], p05, atol=1e-9)
    np.testing.assert_allclose(full["rank_p95"], p95, atol=1e-9)
    np.testing.assert_allclose(full["rank_std"], std, atol=1e-9)
    # a loose tolerance stops early, on the first draws of the same seeded draw
    early = robustness(x, w, 800, 50.0, 7, min_draws=100, tolerance_ranks=60)
    assert early["draws"] in (200, 400) and early["tolerance"] == 60
    p05, p95, _ = _reference_bands(x, w, 800, 50.0, 7, early["draws"])
    np.testing.assert_allclose(early["rank_p05"], p05, atol=1e-9)
    np.testing.assert_allclose(early["rank_p95"], p95, atol=1e-9)
    # the tolerance is the larger of the ranks and the share of subjects
    assert robustness(x, w, 800, 50.0, 7, min_draws=100, tolerance_share=0.2)["tolerance"] == 60
    # a tolerance no band meets takes every draw, and gives exactly the full bands
    strict = robustness(x, w, 800, 50.0, 7, min_draws=100, tolerance_ranks=0)
    assert strict["draws"] == 800 and np.array_equal(strict["rank_p95"], full["rank_p95"])
    # a clear order is stable at once
    clear = robustness(np.array([[1.0, 1.0], [0.1, 0.1], [0.0, 0.0]]), np.array([0.5, 0.5]), 2000, 50.0, 1,
                       min_draws=250, tolerance_ranks=0.5)
    assert clear["draws"] == 500 and clear["rank_p05"].tolist() == clear["rank_p95"].tolist() == [1, 2, 3]


def test_pca_weights():
    x = np.array([[0, 0.1, 1], [1, 0.9, 1], [0.5, 0.4, 1], [0.2, 0.3, 1.0]])
    w = pca_weights(x)
    assert w.sum() == pytest.approx(1) and (w >= 0).all() and w[2] == 0  # a constant component gets no weight


@pytest.mark.parametrize("seed", range(5))
def test_pca_weights_equal_scikit_learns_pipeline(seed):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    x = rng.random((60, 7)) * rng.random(7) * 3
    x[:, 3] = 0.4                                                   # a constant component is left out
    keep = x.std(axis=0) > 0
    pipe = make_pipeline(StandardScaler(), PCA(n_components=1)).fit(x[:, keep])
    load = pipe.named_steps["pca"].components_[0] ** 2
    expected = np.zeros(7)
    expected[keep] = load / load.sum()
    np.testing.assert_allclose(pca_weights(x), expected, rtol=0, atol=1e-12)


def test_movement_flags():
    change = pd.Series([0.1, -0.2, 0.0, 0.3, -0.1, 25.0, np.nan])
    z, flag = movement_flags(change, 3.5)
    assert flag.tolist() == [False, False, False, False, False, True, False]


def test_antitrust_components_by_hand():
    shares = pd.DataFrame({"market_id": ["cloud.x"] * 2, "period": ["2025Q4"] * 2, "entity_id": ["cloudco", "neo"],
                           "share_pct": [55.0, 20.0]})
    events = pd.DataFrame({"date": ["2024-05", "2025-01"], "party_ids": ["bigco;lab", "chipco"],
                           "authority": ["CMA", "SAMR"], "event_type": ["merger inquiry", "investigation"]})
    lk = lockin_scores(COM, INV, STAKES, ENT, CFG)
    loops = round_trips(money_graph(INV, COM, ENT, CFG))
    contributions = pd.DataFrame(columns=["market_id", "period", "regime", "delta_contribution", "owner_id", "firm_id"])
    out = antitrust_scores({"investments": INV, "shares": shares, "contributions": contributions, "commitments": COM,
                            "stakes": STAKES, "lockin": lk, "loops": loops, "events": events}, ENT, CFG)
    rel = out[out.subject_type == "relationship"].set_index("subject_id")
    bl = json.loads(rel.loc["bigco->lab", "components"])
    assert bl["vertical_input_control"]["value"] == pytest.approx(0.6)       # CloudCo (BigCo) supplies 60%
    assert bl["influence_rights"]["value"] == pytest.approx(0.5 + 0.3)       # board seat + active exclusivity
    assert bl["circularity"]["value"] == 1.0                                 # ratio 6, capped at 1
    assert bl["market_power"]["value"] == 1.0                                # 55% > 50%
    assert bl["prior_scrutiny"]["value"] == 1.0                              # an event names both
    lab_lockin = lk.set_index(["buyer_id", "layer"]).loc[("lab", "all"), "score"]
    assert bl["lockin_imposed"]["value"] == pytest.approx(lab_lockin / 100)  # BigCo is the top supplier
    cl = json.loads(rel.loc["chipco->lab", "components"])
    assert cl["circularity"]["value"] == 0.5 and "return flow amount unknown" in cl["circularity"]["facts"]
    assert cl["prior_scrutiny"]["value"] == 0.5 and cl["market_power"]["value"] == 0.0
    fl = json.loads(rel.loc["fund->lab", "components"])
    assert fl["influence_rights"]["value"] is None and fl["vertical_input_control"]["value"] == 0.0
    weights = np.array([CFG["antitrust"]["weights"][c] for c in COMPONENTS])
    x = np.array([bl[c]["value"] or 0 for c in COMPONENTS])
    assert rel.loc["bigco->lab", "score"] == pytest.approx(100 * x @ weights / weights.sum())
    assert rel.loc["bigco->lab", "explanation"].startswith("BigCo -> Lab: risk")
    firms = out[out.subject_type == "firm"].set_index("subject_id")
    assert firms.loc["lab", "score"] == rel["score"].max()


# ------------------------------------------------------------------ the shipped snapshot
@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    with published_store(tmp_path_factory, "risk", [dt.date(2026, 11, 23), dt.date(2026, 11, 24)]) as var:
        yield var


def test_rows_for_every_model_builder_and_relationship(shipped):
    d = dt.date(2026, 11, 24)
    lk = store.read_sql("SELECT * FROM lockin_scores WHERE run_date = :d", {"d": d})
    entities = pd.read_csv(ROOT / "data" / "entities.csv")
    builders = entities[(entities.kind == "firm") & entities.layers.str.contains("model")].entity_id
    assert set(lk.buyer_id) == set(builders) and len(lk) == 3 * len(builders)
    inv = pd.read_csv(ROOT / "data" / "investments.csv")
    rel = store.read_sql("SELECT * FROM antitrust_scores WHERE run_date = :d AND subject_type = 'relationship'", {"d": d})
    assert set(rel.subject_id) == set(inv.investor_id + "->" + inv.investee_id)
    assert rel.explanation.str.contains("risk").all() and rel.source_refs.str.contains("investments.csv#").all()


def test_seed_round_trips_are_found(shipped):
    loops = store.read_sql("SELECT * FROM v_latest_circular_flows").set_index("path")
    ms = loops.loc["microsoft>anthropic>microsoft"]
    # Microsoft's $5bn is "up to": a ceiling, kept apart; Anthropic's $30bn Azure commitment comes back
    assert pd.isna(ms["out_usd_bn"]) and ms["out_ceiling_usd_bn"] == 5 and ms["back_usd_bn"] == 30
    am = loops.loc["amazon>anthropic>amazon"]
    assert am["out_usd_bn"] == 8 and am["out_ceiling_usd_bn"] == 25 and am["back_usd_bn"] == 100
    assert am["round_trip_ratio"] == pytest.approx(12.5)
    assert "nvidia>anthropic>microsoft>nvidia" in loops.index


def test_ranks_on_shipped_data_are_stable_or_reported(shipped):
    a = store.read_sql("SELECT * FROM v_latest_antitrust WHERE subject_type = 'relationship'")
    assert (a.rank_p05 <= a["rank"]).all() and (a["rank"] <= a.rank_p95).all()
    top = a.sort_values("rank").iloc[0]
    assert top.rank_p95 <= 2, "the riskiest relationship should stay on top under +/-20% weight noise"
    movers = store.read_sql("SELECT * FROM v_antitrust_movers")
    assert len(movers) == len(store.read_sql("SELECT * FROM v_latest_antitrust")) and (movers.score_change == 0).all()


def test_lockin_without_any_amount_has_no_score():
    com = commitments([("2024-06", "lab", "neo", None, None, None, None, None, None, 1)])
    out = lockin_scores(com, INV, STAKES, ENT, CFG).set_index(["buyer_id", "layer"])
    assert np.isnan(out.loc[("lab", "cloud"), "score"]) and out.loc[("lab", "cloud"), "coverage"] == 0


def test_show_risk_and_lockin(shipped):
    import os
    import subprocess
    import sys

    env = {**os.environ, "RISKMODELS_VAR": str(shipped), "RISKMODELS_DB_URL": f"sqlite:///{shipped / 'riskmodels.db'}"}
    risk = subprocess.run([sys.executable, "-m", "riskmodels.cli", "show", "risk", "--top", "3"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert risk.returncode == 0 and "alphabet->anthropic" in risk.stdout and "rank_p95" in risk.stdout
    lock = subprocess.run([sys.executable, "-m", "riskmodels.cli", "show", "lockin"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert lock.returncode == 0 and "anthropic" in lock.stdout and "openai" in lock.stdout
