"""Antitrust risk score per relationship (investor -> investee) and per firm, 0-100.

Components (0-1 each; weights and normalisers in config/risk.yaml), named after the risks of
the FTC staff report on AI partnerships (January 2025), the CMA's foundation-model work (2023-24)
and 2023 Merger Guideline 11:

* ``horizontal_overlap``: the MHHI delta this stake adds (leave-one-out, ``rights`` regime) in
  markets where both sides have shares, latest period of each market; 200 points = 1;
* ``vertical_input_control``: the share of the investee's committed compute the investor
  supplies directly, or that runs on the investor's chips;
* ``influence_rights``: board seat, observer, consultation/information rights, active
  exclusivity/ROFR and voting equity from the latest stake terms (capped sum);
* ``lockin_imposed``: the investee's lock-in score where the investor is one of its suppliers,
  scaled by the investor's supplier share relative to the top supplier's;
* ``circularity``: the round-trip ratio (back / out, capped at 1) of money loops in which the
  investor invests in the investee; a loop whose return flow has no amount scores 0.5;
* ``market_power``: the investor's largest share in its own markets (> 50%: 1, > 30%: 0.6,
  else share / 50);
* ``prior_scrutiny``: regulatory events naming both (1), the investor only (0.5) or the
  investee only (0.3).

Aggregation is a weighted arithmetic mean (OECD/JRC Handbook on Constructing Composite
Indicators, 2008), a component without data counting 0 and said so in the explanation.
Robustness: Monte Carlo over Dirichlet-perturbed weights gives every subject's rank band. An
alternative view weights the components by the squared loadings of their first principal
component (scikit-learn ``StandardScaler`` + ``PCA``). Day-over-day moves are flagged with the
modified z-score (Iglewicz & Hoaglin 1993).
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from .dates import date_end, period_end
from .lockin import _basis_value, prepare_commitments
from .ownership import group_of

COMPONENTS = ("horizontal_overlap", "vertical_input_control", "influence_rights", "lockin_imposed",
              "circularity", "market_power", "prior_scrutiny")


def _supplier_shares(commitments_prepared: pd.DataFrame) -> pd.DataFrame:
    """Per buyer group: each supplier group's and chip vendor's share of committed compute."""
    c = _basis_value(commitments_prepared.assign(layer="all"))
    v = c[c["value"].notna()]
    total = v.groupby("buyer_group")["value"].sum()
    sup = v.groupby(["buyer_group", "supplier_group"])["value"].sum().div(total, level="buyer_group")
    chip = v[v["chip_vendor"].notna()].groupby(["buyer_group", "chip_vendor"])["value"].sum().div(total, level="buyer_group")
    return sup.rename("share").reset_index(), chip.rename("share").reset_index()


def relationships(investments: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """Unique investor -> investee pairs of the investment data, with their groups."""
    group = group_of(entities)
    r = investments[["investor_id", "investee_id"]].drop_duplicates().reset_index(drop=True)
    r["gi"] = r["investor_id"].map(lambda x: group.get(x, x))
    r["gt"] = r["investee_id"].map(lambda x: group.get(x, x))
    return r


def components(rel: pd.DataFrame, *, shares: pd.DataFrame, contributions: pd.DataFrame, commitments: pd.DataFrame,
               stakes: pd.DataFrame, lockin: pd.DataFrame, loops: pd.DataFrame, events: pd.DataFrame,
               entities: pd.DataFrame, cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Component values (relationships x components, NaN = no data) and the facts behind each."""
    a = cfg["antitrust"]
    norm = a["normalise"]
    group = group_of(entities)
    names = entities.set_index("entity_id")["name"].to_dict()
    nm = lambda x: names.get(x, x)  # noqa: E731
    n = len(rel)
    val = pd.DataFrame(np.nan, index=rel.index, columns=list(COMPONENTS))
    facts = pd.DataFrame("", index=rel.index, columns=list(COMPONENTS))

    # latest period of each market and the groups with shares in it
    s = shares[shares["share_pct"].notna()].assign(g=lambda d: d["entity_id"].map(lambda x: group.get(x, x)),
                                                   end=lambda d: period_end(d["period"]))
    latest = s[s["end"] == s.groupby("market_id")["end"].transform("max")]
    by_group = latest.groupby(["market_id", "period", "g"])["share_pct"].sum().reset_index()
    members = by_group.groupby(["market_id", "period"])["g"].agg(set)

    # 1. horizontal overlap
    if len(contributions):
        c = contributions[contributions["regime"] == norm["overlap_regime"]].copy()
        c["gi"] = c["owner_id"].map(lambda x: group.get(x, x))
        c["gt"] = c["firm_id"].map(lambda x: group.get(x, x))
        c = c.merge(members.rename("members").reset_index(), on=["market_id", "period"])
        both = np.array([gi in m and gt in m for gi, gt, m in zip(c["gi"], c["gt"], c["members"])], dtype=bool)
        c = c[both]
        best = c.sort_values("delta_contribution", ascending=False).drop_duplicates(["gi", "gt"])
        m = rel.merge(best, on=["gi", "gt"], how="left")
        val["horizontal_overlap"] = (m["delta_contribution"].clip(lower=0) / norm["delta_mhhi_full"]).clip(upper=1).fillna(0.0).to_numpy()
        facts["horizontal_overlap"] = [
            f"adds {d:.0f} MHHI points in {mk} {p}" if pd.notna(d) else "no market where both have shares and a known stake"
            for d, mk, p in zip(m["delta_contribution"], m["market_id"], m["period"])]
    else:
        val["horizontal_overlap"] = 0.0
        facts["horizontal_overlap"] = "no ownership data"

    # 2. vertical input control
    cp = prepare_commitments(commitments, entities, cfg)
    sup, chip = _supplier_shares(cp)
    d = rel.merge(sup, left_on=["gt", "gi"], right_on=["buyer_group", "supplier_group"], how="left")["share"].to_numpy()
    ch = rel.merge(chip, left_on=["gt", "gi"], right_on=["buyer_group", "chip_vendor"], how="left")["share"].to_numpy()
    has_commit = rel["gt"].isin(set(cp["buyer_group"])).to_numpy()
    val["vertical_input_control"] = np.where(has_commit, np.fmax(np.nan_to_num(d), np.nan_to_num(ch)), np.nan)
    facts["vertical_input_control"] = [
        (f"{nm(gi)} supplies {100 * np.nan_to_num(x):.0f}% of {nm(gt)}'s committed compute directly"
         + (f", {100 * y:.0f}% runs on its chips" if pd.notna(y) else "")) if hc else f"no compute commitments of {nm(gt)} known"
        for gi, gt, x, y, hc in zip(rel["gi"], rel["gt"], d, ch, has_commit)]

    # 3. influence rights (latest stake terms of the pair)
    st = stakes.assign(gi=stakes["investor_id"].map(lambda x: group.get(x, x)),
                       gt=stakes["investee_id"].map(lambda x: group.get(x, x)),
                       _end=date_end(stakes["as_of"]), ref_row=pd.to_numeric(stakes["ref_row"]))
    last = st.sort_values(["_end", "ref_row"]).groupby(["gi", "gt"]).tail(1)
    m = rel.merge(last, on=["gi", "gt"], how="left")
    w = a["influence"]
    excl = m["exclusivity_or_rofr"].fillna("")
    excl_active = excl.str.contains(cfg["lockin"]["exclusivity_pattern"]) & ~excl.str.contains(cfg["lockin"]["ended_pattern"])
    parts = {"board seat": (m["board_seat"] == "yes") * w["board_seat"],
             "board observer": (m["board_observer"] == "yes") * w["board_observer"],
             "consultation/information rights": m["consultation_or_info_rights"].notna() * w["consultation_or_info_rights"],
             "exclusivity/ROFR": excl_active * w["exclusivity_or_rofr"],
             "voting equity": (m["voting"] == "yes") * w["voting_equity"]}
    total = sum(parts.values())
    has_terms = m["as_of"].notna().to_numpy()
    val["influence_rights"] = np.where(has_terms, np.minimum(1.0, total.to_numpy(dtype=float)), np.nan)
    facts["influence_rights"] = [
        (", ".join(k for k, v in parts.items() if v.iloc[i] > 0) or "no board, observer, consultation, exclusivity "
         "or voting rights") + f" (terms as of {m['as_of'].iloc[i]})" if has_terms[i] else "no stake terms known"
        for i in range(n)]

    # 4. lock-in imposed
    lk = lockin[lockin["layer"] == "all"].set_index("buyer_id")["score"]
    top = sup.groupby("buyer_group")["share"].max()
    m = rel.merge(sup, left_on=["gt", "gi"], right_on=["buyer_group", "supplier_group"], how="left")
    lscore = rel["gt"].map(lk).to_numpy(dtype=float)
    rel_share = (m["share"] / rel["gt"].map(top)).to_numpy(dtype=float)
    val["lockin_imposed"] = np.where(np.isnan(lscore), np.nan, np.nan_to_num(lscore) / 100 * np.nan_to_num(rel_share))
    facts["lockin_imposed"] = [
        (f"{nm(gt)} lock-in {ls:.0f}/100; {nm(gi)} holds {100 * np.nan_to_num(sh):.0f}% of its committed compute"
         if not np.isnan(ls) else f"no lock-in score for {nm(gt)}")
        for gi, gt, ls, sh in zip(rel["gi"], rel["gt"], lscore, m["share"].to_numpy(dtype=float))]

    # 5. circularity
    circ = np.zeros(n)
    circ_f = ["no money loop through this investment"] * n
    if len(loops):
        for lp in loops.itertuples():
            hops = json.loads(lp.hop_details)
            ratio = lp.round_trip_ratio if pd.notna(lp.round_trip_ratio) else lp.ratio_incl_ceilings
            score = min(1.0, float(ratio)) if pd.notna(ratio) else a["normalise"].get("unknown_ratio_score", 0.5)
            for h in hops:
                if "equity" not in ([h["kind"]] + h["other_kinds"]):
                    continue
                hit = np.flatnonzero((rel["gi"] == h["from"]).to_numpy() & (rel["gt"] == h["to"]).to_numpy())
                for i in hit:
                    if score > circ[i]:
                        circ[i] = score
                        circ_f[i] = (f"loop {lp.path.replace('>', ' -> ')}: " + (
                            f"round-trip ratio {ratio:.2f}" if pd.notna(ratio) else "return flow amount unknown"))
    val["circularity"] = circ
    facts["circularity"] = circ_f

    # 6. market power of the investor in its own markets
    best = by_group.sort_values("share_pct", ascending=False).drop_duplicates("g").set_index("g")
    sh = rel["gi"].map(best["share_pct"]).to_numpy(dtype=float)
    levels = sorted(norm["market_power_levels"], key=lambda x: -x["above"])
    mp = np.where(np.isnan(sh), 0.0, np.minimum(1.0, np.nan_to_num(sh) / norm["market_power_below_scale"]))
    for lev in reversed(levels):
        mp = np.where(sh > lev["above"], lev["score"], mp)
    val["market_power"] = mp
    facts["market_power"] = [f"largest share {x:g}% in {best.at[g, 'market_id']} {best.at[g, 'period']}" if not np.isnan(x)
                             else f"{nm(g)} has no market share in the data" for g, x in zip(rel["gi"], sh)]

    # 7. prior scrutiny
    ev = events.assign(groups=events["party_ids"].str.split(";").map(lambda xs: {group.get(x, x) for x in xs}))
    sc = np.zeros(n)
    sc_f = ["no regulatory event names either party"] * n
    for i, (gi, gt) in enumerate(zip(rel["gi"], rel["gt"])):
        both = ev[ev["groups"].map(lambda g: gi in g and gt in g)]
        inv_only = ev[ev["groups"].map(lambda g: gi in g and gt not in g)]
        tgt_only = ev[ev["groups"].map(lambda g: gt in g and gi not in g)]
        for frame, weight, label in ((both, norm["scrutiny_both"], "both parties"),
                                     (inv_only, norm["scrutiny_investor"], "the investor"),
                                     (tgt_only, norm["scrutiny_investee"], "the investee")):
            if len(frame) and weight > sc[i]:
                last_ev = frame.sort_values("date").iloc[-1]
                sc[i] = weight
                sc_f[i] = (f"{len(frame)} event(s) naming {label}, latest {last_ev['date']} {last_ev['authority']} "
                           f"{last_ev['event_type']}")
    val["prior_scrutiny"] = sc
    facts["prior_scrutiny"] = sc_f
    return val, facts


def robustness(x: np.ndarray, weights: np.ndarray, draws: int, concentration: float, seed: int) -> dict:
    """Rank bands under Monte Carlo weight draws ~ Dirichlet(concentration * weights)."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(concentration * weights / weights.sum(), size=draws).T        # (components, draws)
    scores = x @ w                                                                 # (subjects, draws)
    ranks = (-scores).argsort(axis=0).argsort(axis=0) + 1
    base_rank = (-(x @ weights)).argsort().argsort() + 1
    return {"rank": base_rank, "rank_p05": np.percentile(ranks, 5, axis=1), "rank_p95": np.percentile(ranks, 95, axis=1),
            "rank_std": ranks.std(axis=1)}


def pca_weights(x: np.ndarray) -> np.ndarray:
    """Component weights from the squared loadings of the first principal component of the
    standardised components (OECD/JRC 2008, weighting by factor analysis)."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    keep = x.std(axis=0) > 0
    w = np.zeros(x.shape[1])
    if keep.sum() == 0 or x.shape[0] < 2:
        return np.full(x.shape[1], 1 / x.shape[1])
    pipe = make_pipeline(StandardScaler(), PCA(n_components=1))
    pipe.fit(x[:, keep])
    load = pipe.named_steps["pca"].components_[0] ** 2
    w[keep] = load / load.sum()
    return w


def movement_flags(change: pd.Series, threshold: float) -> tuple[pd.Series, pd.Series]:
    """Modified z-scores of day-over-day changes and |z| > threshold flags (Iglewicz & Hoaglin
    1993; mean absolute deviation when the MAD is zero)."""
    x = change.dropna()
    z = pd.Series(np.nan, index=change.index)
    if len(x) >= 3:
        med = x.median()
        mad = (x - med).abs().median()
        if mad > 0:
            z[x.index] = 0.6745 * (x - med) / mad
        else:
            mean_ad = (x - med).abs().mean()
            if mean_ad > 0:
                z[x.index] = (x - med) / (1.253314 * mean_ad)
            else:
                z[x.index] = 0.0
    return z, z.abs() > threshold


def antitrust_scores(rel_inputs: dict, entities: pd.DataFrame, cfg: dict, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Scores per relationship and per firm with components (JSON), explanation, rank band,
    PCA-weighted alternative, change against the previous run and a movement flag."""
    a = cfg["antitrust"]
    rel = relationships(rel_inputs["investments"], entities)
    val, facts = components(rel, entities=entities, cfg=cfg, **{k: v for k, v in rel_inputs.items() if k != "investments"})
    weights = np.array([a["weights"][c] for c in COMPONENTS], dtype=float)
    weights = weights / weights.sum()
    x = val.fillna(0.0).to_numpy()
    score = 100 * x @ weights
    rob = a["robustness"]
    bands = robustness(x, weights, rob["draws"], rob["dirichlet_concentration"], rob["seed"])
    wp = pca_weights(x)
    names = entities.set_index("entity_id")["name"].to_dict()
    nm = lambda e: names.get(e, e)  # noqa: E731
    refs = rel_inputs["investments"].groupby(["investor_id", "investee_id"])["ref_row"].agg(
        lambda xs: ";".join(f"investments.csv#{int(r)}" for r in sorted(set(pd.to_numeric(xs)))))
    rows = []
    for i, r in rel.iterrows():
        comp = {c: {"value": None if np.isnan(val.at[i, c]) else float(val.at[i, c]), "weight": float(weights[k]),
                    "contribution": float(100 * weights[k] * x[i, k]), "facts": facts.at[i, c]}
                for k, c in enumerate(COMPONENTS)}
        ordered = sorted(comp.items(), key=lambda kv: -kv[1]["contribution"])
        text = f"{nm(r.investor_id)} -> {nm(r.investee_id)}: risk {score[i]:.0f}/100 — " + "; ".join(
            f"{c.replace('_', ' ')} {'n/a' if d['value'] is None else format(d['value'], '.2f')} ({d['facts']})"
            for c, d in ordered)
        rows.append({"subject_type": "relationship", "subject_id": f"{r.investor_id}->{r.investee_id}",
                     "investor_id": r.investor_id, "investee_id": r.investee_id, "score": float(score[i]),
                     "rank": int(bands["rank"][i]), "rank_p05": float(bands["rank_p05"][i]),
                     "rank_p95": float(bands["rank_p95"][i]), "rank_std": float(bands["rank_std"][i]),
                     "score_pca": float(100 * x[i] @ wp), "components": json.dumps(comp, sort_keys=True),
                     "explanation": text, "source_refs": refs.get((r.investor_id, r.investee_id), "")})
    out = pd.DataFrame(rows)
    # per firm: its riskiest relationship, as investor or investee
    firm_rows = []
    long = pd.concat([out.assign(firm=out["investor_id"], role="investor"),
                      out.assign(firm=out["investee_id"], role="investee")])
    best = long.sort_values("score", ascending=False).drop_duplicates("firm")
    counts = long.groupby("firm").size()
    for r in best.itertuples():
        firm_rows.append({"subject_type": "firm", "subject_id": r.firm, "investor_id": r.investor_id,
                          "investee_id": r.investee_id, "score": r.score, "score_pca": r.score_pca,
                          "components": r.components, "source_refs": r.source_refs,
                          "explanation": f"{nm(r.firm)}: risk {r.score:.0f}/100 from its riskiest of "
                                         f"{counts[r.firm]} relationship(s), as {r.role}. {r.explanation}"})
    firms = pd.DataFrame(firm_rows)
    fx = np.array([[json.loads(c)[k]["value"] or 0.0 for k in COMPONENTS] for c in firms["components"]])
    fb = robustness(fx, weights, rob["draws"], rob["dirichlet_concentration"], rob["seed"])
    for k in ("rank", "rank_p05", "rank_p95", "rank_std"):
        firms[k] = fb[k]
    out = pd.concat([out, firms], ignore_index=True)
    prev = (previous.set_index(["subject_type", "subject_id"])["score"] if previous is not None and len(previous)
            else pd.Series(dtype=float))
    out["previous_score"] = [prev.get((t, s), np.nan) for t, s in zip(out["subject_type"], out["subject_id"])]
    out["score_change"] = out["score"] - out["previous_score"]
    out["movement_z"], out["movement_flag"] = np.nan, False
    for t in ("relationship", "firm"):
        mask = out["subject_type"] == t
        z, flag = movement_flags(out.loc[mask, "score_change"], a["movement"]["robust_z_flag"])
        out.loc[mask, "movement_z"] = z
        out.loc[mask, "movement_flag"] = flag
    out["movement_flag"] = out["movement_flag"].astype(bool)
    return out
