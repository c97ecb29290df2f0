"""The sparse ownership engine against brute force: every leave-one-out driver equals the MHHI
delta recomputed from scratch without that link, on random worlds with chains and cycles."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from riskmodels.concentration import mhhi_many
from riskmodels.ownership import REGIMES, Matrices, layout_mhhi, link_contributions, market_layout


def random_world(seed: int):
    rng = np.random.default_rng(seed)
    firms = [f"f{i}" for i in range(12)]
    funds = [f"o{i}" for i in range(6)]
    rows = []
    for o in funds:  # index-like funds: small stakes in many firms
        for f in rng.choice(firms, 5, replace=False):
            rows.append((o, f, rng.uniform(0.005, 0.08), rng.choice([np.nan, 0.0, 0.05]), rng.uniform(0, 0.3)))
    for _ in range(10):  # strategic firm-to-firm stakes, cycles included
        a, b = rng.choice(firms, 2, replace=False)
        rows.append((a, b, rng.uniform(0.02, 0.3), rng.uniform(0, 0.3), rng.uniform(0, 0.6)))
    links = pd.DataFrame(rows, columns=["owner_id", "firm_id", "beta", "votes", "gamma_rights"])
    links = links.drop_duplicates(["owner_id", "firm_id"]).reset_index(drop=True)
    links["status"] = "included"
    links.loc[links.sample(2, random_state=seed).index, "status"] = "stake_unknown"
    # the jurisdictional regime: a class per link (full: majority control, silent: no control)
    cls = rng.choice(["full", "rights", "silent", "unknown"], len(links), p=[0.15, 0.45, 0.3, 0.1])
    links["full_jurisdictional"] = cls == "full"
    links["gamma_jurisdictional"] = np.where(cls == "full", 1.0, np.where(cls == "silent", 0.0, links["gamma_rights"]))
    links["votes_jurisdictional"] = np.where(cls == "silent", 0.0, links["votes"].fillna(0.0))
    shares = []
    for m in range(5):
        chosen = rng.choice(firms, rng.integers(2, 7), replace=False)
        s = rng.dirichlet(np.ones(len(chosen))) * rng.uniform(60, 100)
        shares += [(f"m{m}", "2025Q4", f, float(v)) for f, v in zip(chosen, s)]
    return links, pd.DataFrame(shares, columns=["market_id", "period", "entity_id", "share_pct"]), firms


@pytest.mark.parametrize("seed", range(8))
def test_leave_one_out_equals_recomputation(seed):
    links, shares, firms = random_world(seed)
    mats = Matrices(links, firms, {})
    layout = market_layout(shares, mats.node_index, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base = layout_mhhi(layout, mats).set_index(["market_id", "regime"])["delta"]
        got = link_contributions(layout, mats)
        keys = layout[0]
        got = got.assign(market_id=keys["market_id"].to_numpy()[got["m"]]).set_index(["link", "market_id", "regime"])
        checked = 0
        for pos, idx in enumerate(mats.link_index):
            without = Matrices(links.drop(index=idx), firms, {})
            d = layout_mhhi(market_layout(shares, without.node_index, {}), without).set_index(["market_id", "regime"])["delta"]
            for (market, regime), value in (base - d).items():
                have = got["delta_contribution"].get((pos, market, regime), 0.0)
                assert have == pytest.approx(value, abs=1e-6), (pos, market, regime)
                checked += abs(value) > 1e-6
    assert checked > 20


@pytest.mark.parametrize("seed", range(4))
def test_sparse_mhhi_equals_dense_einsum(seed):
    links, shares, firms = random_world(seed)
    mats = Matrices(links, firms, {})
    keys, S, cols = layout = market_layout(shares, mats.node_index, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = layout_mhhi(layout, mats)
        for regime in REGIMES:
            b = np.pad(mats.beta.toarray(), ((0, 1), (0, 1)))
            g = np.pad(mats.gamma[regime].toarray(), ((0, 1), (0, 1)))
            b[-1, -1] = g[-1, -1] = 1.0
            want = mhhi_many(S, np.transpose(b[:, cols], (1, 0, 2)), np.transpose(g[:, cols], (1, 0, 2)))
            have = got[got["regime"] == regime].reset_index(drop=True)
            np.testing.assert_allclose(have["mhhi"], want["mhhi"], atol=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_owner_space_mhhi_equals_pairwise_kappa(seed):
    """layout_mhhi sums in owner space; the guidelines' form is the pairwise sum over p != q of
    s_p s_q K_pq / K_pp. Equal with two market firms in one group (one node, two positions) and
    a firm whose controllers hold no cash flow (wholly held, so under ``silent`` its residual
    shareholders control it and hold nothing: K_pp = 0, a zero kappa row)."""
    links, shares, firms = random_world(seed)
    firms = firms + ["f-whole"]
    links = pd.concat([links, pd.DataFrame([{"owner_id": "o-all", "firm_id": "f-whole", "beta": 1.0, "votes": 1.0,
                                             "gamma_rights": 1.0, "status": "included"}])], ignore_index=True)
    group = {"f3": "g34", "f4": "g34"}
    shares = pd.concat([shares, pd.DataFrame({"market_id": "m-dup", "period": "2025Q4", "entity_id": ["f3", "f4", "f-whole", "f0"],
                                              "share_pct": [30.0, 25.0, 20.0, 15.0]})], ignore_index=True)
    nodes = sorted({group.get(f, f) for f in firms})
    mats = Matrices(links, nodes, group)
    keys, S, cols = layout = market_layout(shares, mats.node_index, group)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = layout_mhhi(layout, mats)
    for regime in REGIMES:
        K = mats.K[regime].toarray()
        kpp = np.diag(K)
        if regime == "silent":
            assert kpp[mats.node_index["f-whole"]] == 0.0
        want = []
        for m in range(len(keys)):
            n = [(c, s) for c, s in zip(cols[m], S[m]) if c < len(nodes)]
            want.append(sum(sp_ * sq * (K[p, q] / kpp[p] if kpp[p] > 0 else 0.0)
                            for i, (p, sp_) in enumerate(n) for j, (q, sq) in enumerate(n) if i != j))
        have = got[got["regime"] == regime]["delta"].to_numpy()
        np.testing.assert_allclose(have, want, rtol=1e-12, atol=1e-9)


def test_chain_inverse_with_cycle_matches_dense():
    from riskmodels.ownership import _chain_inverse
    import scipy.sparse as sp

    c = np.zeros((4, 4))
    c[0, 1], c[1, 0], c[1, 2], c[2, 3] = 0.3, 0.4, 0.5, 0.2
    got = _chain_inverse(sp.csr_matrix(c)).toarray()
    np.testing.assert_allclose(got, np.linalg.inv(np.eye(4) - c), atol=1e-12)


def _one_cut_at_a_time(shares, stakes, holders, entities, run_date, cfg):
    """The MHHI of every market-period and the drivers of each market's latest period, computed
    the plain way: one date at a time, each with its own links and matrices."""
    from riskmodels.dates import period_end
    from riskmodels.ownership import group_of, links_as_of

    group = group_of(entities)
    shares = shares[shares["share_pct"].notna()].copy()
    shares["as_of"] = period_end(shares["period"]).clip(upper=pd.Timestamp(run_date)).dt.date
    ends = period_end(shares["period"])
    shares["_latest"] = (ends == ends.groupby(shares["market_id"]).transform("max")).to_numpy()
    nodes = sorted({group.get(e, e) for e in shares["entity_id"]})
    mhhi, contrib = [], []
    for as_of, part in shares.groupby("as_of"):
        links = links_as_of(stakes, holders, entities, as_of, cfg)
        mats = Matrices(links, nodes, group)
        mhhi.append(layout_mhhi(market_layout(part, mats.node_index, group), mats).assign(ownership_as_of=as_of))
        latest = part[part["_latest"]]
        if len(latest):
            lay = market_layout(latest, mats.node_index, group)
            c = link_contributions(lay, mats)
            row = links.loc[mats.link_index[c["link"].to_numpy()]]
            contrib.append(pd.DataFrame({"market_id": lay[0]["market_id"].to_numpy()[c["m"]],
                                         "regime": c["regime"].to_numpy(), "owner_id": row["owner_id"].to_numpy(),
                                         "firm_id": row["firm_id"].to_numpy(),
                                         "delta_contribution": c["delta_contribution"].to_numpy()}))
    return pd.concat(mhhi, ignore_index=True), pd.concat(contrib, ignore_index=True)


@pytest.mark.parametrize("chunk_rows", [None, 1])
def test_stacked_point_in_time_cuts_equal_one_cut_at_a_time(monkeypatch, chunk_rows):
    """ownership_scores scores all dates' links as blocks of one block-diagonal system (in chunks):
    on the shipped snapshot, every market-period's MHHI and every driver equal the per-date
    computation; chunk_rows=1 puts every cut in a chunk of its own (and every market-period in a
    layout batch of its own)."""
    import datetime as dt
    from pathlib import Path

    from riskmodels import ownership
    from riskmodels.config import load_yaml

    root = Path(__file__).resolve().parent.parent
    if chunk_rows:   # and every market-period in a layout batch of its own
        monkeypatch.setattr(ownership, "CHUNK_ROWS", chunk_rows)
        monkeypatch.setattr(ownership, "BATCH_CELLS", 1)
    read = lambda name: pd.read_csv(root / "data" / f"{name}.csv")  # noqa: E731
    shares, stakes, holders, entities = (read(n) for n in ("market_shares", "stake_rights", "institutional_holders",
                                                            "entities"))
    screens = load_yaml(root / "config" / "screens.yaml")
    cfg = {**load_yaml(root / "config" / "ownership.yaml"), "jurisdictional": {
        "control": screens["control"], "jurisdictions": screens["jurisdictional_mhhi"]["jurisdictions"]}}
    run_date = dt.date(2026, 12, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mhhi, _, _, contrib = ownership.ownership_scores(shares, stakes, holders, entities, run_date, cfg)
        want_mhhi, want_contrib = _one_cut_at_a_time(shares, stakes, holders, entities, run_date, cfg)
    assert mhhi["ownership_as_of"].nunique() > 10 and len(want_contrib) > 50
    key = ["market_id", "period", "regime"]
    got = mhhi.set_index(key).sort_index()
    want = want_mhhi.set_index(key).sort_index()
    assert got.index.equals(want.index)
    for col in ("hhi", "mhhi", "delta"):
        np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float), atol=1e-9)
    assert (got["ownership_as_of"] == want["ownership_as_of"]).all()
    key = ["market_id", "regime", "owner_id", "firm_id"]
    got_c = contrib[key + ["delta_contribution"]].sort_values(key + ["delta_contribution"]).reset_index(drop=True)
    want_c = want_contrib.sort_values(key + ["delta_contribution"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got_c[key].astype(str), want_c[key].astype(str))
    np.testing.assert_allclose(got_c["delta_contribution"], want_c["delta_contribution"], atol=1e-9)


def test_ownership_scores_are_read_back_when_their_inputs_recur(workspace, monkeypatch):
    """With memo_settings the result is kept by its inputs (riskmodels.memo): the next day with the
    same rows reads it back (the same point-in-time cuts) and equals a fresh computation, the day's
    own ownership_as_of included; a new stake row computes again."""
    import datetime as dt
    from pathlib import Path

    from riskmodels import memo, ownership
    from riskmodels.config import get_settings, load_yaml

    root = Path(__file__).resolve().parent.parent
    read = lambda name: pd.read_csv(root / "data" / f"{name}.csv")  # noqa: E731
    shares, stakes, holders, entities = (read(n) for n in ("market_shares", "stake_rights", "institutional_holders",
                                                            "entities"))
    cfg = load_yaml(root / "config" / "ownership.yaml")
    settings = get_settings()
    calls = []
    real = ownership._ownership_scores
    monkeypatch.setattr(ownership, "_ownership_scores", lambda *a: calls.append(a[4]) or real(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ownership.ownership_scores(shares, stakes, holders, entities, dt.date(2026, 12, 1), cfg, memo_settings=settings)
        memo.clear_local()
        got = ownership.ownership_scores(shares, stakes, holders, entities, dt.date(2026, 12, 2), cfg,
                                         memo_settings=settings)
        assert calls == [dt.date(2026, 12, 1)]                   # the second day was read back
        want = ownership.ownership_scores(shares, stakes, holders, entities, dt.date(2026, 12, 2), cfg)
    for g, w in zip(got, want):
        pd.testing.assert_frame_equal(g.reset_index(drop=True), w.reset_index(drop=True))
    assert (got[0]["ownership_as_of"] == dt.date(2026, 12, 2)).any()   # a current period's ownership date moved
    extra = stakes.iloc[[0]].assign(as_of="2026-12-02", investor_id="acme", investee_id="openai", stake_pct=5,
                                    ref_row=len(stakes) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ownership.ownership_scores(shares, pd.concat([stakes, extra], ignore_index=True), holders, entities,
                                   dt.date(2026, 12, 2), cfg, memo_settings=settings)
    assert calls == [dt.date(2026, 12, 1), dt.date(2026, 12, 2), dt.date(2026, 12, 2)]   # fresh, then the new row
