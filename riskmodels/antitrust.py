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

import numpy as np
import pandas as pd

from .dates import date_end, period_end
from .lockin import _basis_value, prepare_commitments
from .ownership import group_of, to_group

#: the columns of :func:`antitrust_scores` (``antitrust_scores`` table) and their dtypes
OUTPUT_COLUMNS = {"subject_type": "str", "subject_id": "str", "investor_id": "str", "investee_id": "str",
                  "score": float, "rank": "Int64", "rank_p05": float, "rank_p95": float, "rank_std": float,
                  "score_pca": float, "components": "str", "explanation": "str", "source_refs": "str",
                  "previous_score": float, "score_change": float, "movement_z": float, "movement_flag": bool}

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
    r["gi"] = to_group(r["investor_id"], group)
    r["gt"] = to_group(r["investee_id"], group)
    return r


def _names(ids: pd.Series, names: dict) -> np.ndarray:
    """Display names of entity ids (the id itself where the registry has none), as an object array."""
    return np.array([names.get(e, e) for e in ids.tolist()], dtype=object)


def _fmt(x: np.ndarray, spec: str) -> np.ndarray:
    """``spec.format`` of each number (NaN formatted as Python does: "nan"), as an object array."""
    f = spec.format
    return np.array([f(v) for v in np.asarray(x, dtype=float).tolist()], dtype=object)


def components(rel: pd.DataFrame, *, shares: pd.DataFrame, contributions: pd.DataFrame, commitments: pd.DataFrame,
               stakes: pd.DataFrame, lockin: pd.DataFrame, loops: pd.DataFrame, events: pd.DataFrame,
               entities: pd.DataFrame, cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Component values (relationships x components, NaN = no data) and the facts behind each."""
    a = cfg["antitrust"]
    norm = a["normalise"]
    group = group_of(entities)
    names = entities.set_index("entity_id")["name"].to_dict()
    n = len(rel)
    val = pd.DataFrame(np.nan, index=rel.index, columns=list(COMPONENTS))
    facts = pd.DataFrame("", index=rel.index, columns=list(COMPONENTS))
    # the facts are text assembled column by column (one string operation per column, not per row)
    name_i, name_t = _names(rel["gi"], names), _names(rel["gt"], names)

    # latest period of each market and the groups with shares in it
    s = shares[shares["share_pct"].notna()].assign(g=lambda d: to_group(d["entity_id"], group),
                                                   end=lambda d: period_end(d["period"]))
    latest = s[s["end"] == s.groupby("market_id")["end"].transform("max")]
    by_group = latest.groupby(["market_id", "period", "g"])["share_pct"].sum().reset_index()

    # 1. horizontal overlap
    if len(contributions):
        c = contributions[contributions["regime"] == norm["overlap_regime"]].copy()
        c["gi"] = to_group(c["owner_id"], group)
        c["gt"] = to_group(c["firm_id"], group)
        present = by_group[["market_id", "period", "g"]]
        c = c.merge(present.rename(columns={"g": "gi"}), on=["market_id", "period", "gi"])
        c = c.merge(present.rename(columns={"g": "gt"}), on=["market_id", "period", "gt"])
        best = c.sort_values("delta_contribution", ascending=False).drop_duplicates(["gi", "gt"])
        m = rel.merge(best, on=["gi", "gt"], how="left")
        val["horizontal_overlap"] = (m["delta_contribution"].clip(lower=0) / norm["delta_mhhi_full"]).clip(upper=1).fillna(0.0).to_numpy()
        dc = m["delta_contribution"].to_numpy(dtype=float)
        facts["horizontal_overlap"] = np.where(
            np.isnan(dc), "no market where both have shares and a known stake",
            "adds " + _fmt(dc, "{:.0f}") + " MHHI points in " + m["market_id"].astype(object).map(str).to_numpy()
            + " " + m["period"].astype(object).map(str).to_numpy())
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
    d, ch = d.astype(float), ch.astype(float)
    facts["vertical_input_control"] = np.where(
        has_commit,
        name_i + " supplies " + _fmt(100 * np.nan_to_num(d), "{:.0f}") + "% of " + name_t + "'s committed compute directly"
        + np.where(np.isnan(ch), "", ", " + _fmt(100 * ch, "{:.0f}") + "% runs on its chips"),
        "no compute commitments of " + name_t + " known")

    # 3. influence rights (latest stake terms of the pair)
    st = stakes.assign(gi=to_group(stakes["investor_id"], group),
                       gt=to_group(stakes["investee_id"], group),
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
    held = np.full(n, "", dtype=object)
    for k, v in parts.items():
        on = v.to_numpy(dtype=float) > 0
        held = np.where(on, np.where(held == "", k, held + ", " + k), held)
    held = np.where(held == "", "no board, observer, consultation, exclusivity or voting rights", held)
    facts["influence_rights"] = np.where(has_terms, held + " (terms as of " + m["as_of"].astype(object).map(str).to_numpy()
                                         + ")", "no stake terms known")

    # 4. lock-in imposed
    lk = lockin[lockin["layer"] == "all"].set_index("buyer_id")["score"]
    top = sup.groupby("buyer_group")["share"].max()
    m = rel.merge(sup, left_on=["gt", "gi"], right_on=["buyer_group", "supplier_group"], how="left")
    lscore = rel["gt"].map(lk).to_numpy(dtype=float)
    rel_share = (m["share"] / rel["gt"].map(top)).to_numpy(dtype=float)
    val["lockin_imposed"] = np.where(np.isnan(lscore), np.nan, np.nan_to_num(lscore) / 100 * np.nan_to_num(rel_share))
    facts["lockin_imposed"] = np.where(
        np.isnan(lscore), "no lock-in score for " + name_t,
        name_t + " lock-in " + _fmt(lscore, "{:.0f}") + "/100; " + name_i + " holds "
        + _fmt(100 * np.nan_to_num(m["share"].to_numpy(dtype=float)), "{:.0f}") + "% of its committed compute")

    # 5. circularity: the best-scoring loop (first in loop order on ties) through each equity hop
    circ = np.zeros(n)
    circ_f = np.array(["no money loop through this investment"] * n, dtype=object)
    if len(loops):
        lp = loops.reset_index(drop=True)
        ratio = lp["round_trip_ratio"].where(lp["round_trip_ratio"].notna(), lp["ratio_incl_ceilings"]).astype(float)
        score = np.where(ratio.notna(), np.minimum(1.0, ratio.fillna(0.0)), a["normalise"].get("unknown_ratio_score", 0.5))
        text = ("loop " + lp["path"].str.replace(">", " -> ") + ": "
                + np.where(ratio.notna(), "round-trip ratio " + ratio.map("{:.2f}".format), "return flow amount unknown"))
        hops = pd.DataFrame([(i, h["from"], h["to"], "equity" in [h["kind"]] + h["other_kinds"])
                             for i, hd in enumerate(lp["hop_details"]) for h in json.loads(hd)],
                            columns=["loop", "gi", "gt", "equity"])
        hops = hops[hops["equity"]].assign(score=score[hops.loc[hops["equity"], "loop"]],
                                           text=text.to_numpy()[hops.loc[hops["equity"], "loop"]])
        hit = (rel[["gi", "gt"]].reset_index(names="i").merge(hops, on=["gi", "gt"])
               .sort_values(["i", "score", "loop"], ascending=[True, False, True]).drop_duplicates("i"))
        hit = hit[hit["score"] > 0]
        circ[hit["i"]] = hit["score"]
        circ_f[hit["i"]] = hit["text"]
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
    facts["market_power"] = np.where(
        np.isnan(sh), name_i + " has no market share in the data",
        "largest share " + _fmt(sh, "{:g}") + "% in " + rel["gi"].map(best["market_id"]).astype(object).map(str).to_numpy()
        + " " + rel["gi"].map(best["period"]).astype(object).map(str).to_numpy())

    # 7. prior scrutiny: the heaviest category with events (both, investor only, investee only)
    sc = np.zeros(n)
    sc_f = np.array(["no regulatory event names either party"] * n, dtype=object)
    ev = events.reset_index(drop=True).reset_index(names="ev")
    ev_long = ev.assign(g=ev["party_ids"].str.split(";")).explode("g")
    ev_long = ev_long.assign(g=to_group(ev_long["g"], group)).drop_duplicates(["ev", "g"])
    ri = rel[["gi", "gt"]].reset_index(names="i")
    on_i = ri.merge(ev_long[["ev", "g"]], left_on="gi", right_on="g")[["i", "ev"]]
    on_t = ri.merge(ev_long[["ev", "g"]], left_on="gt", right_on="g")[["i", "ev"]]
    hits = on_i.merge(on_t, on=["i", "ev"], how="outer", indicator=True)
    cat = hits["_merge"].map({"both": 0, "left_only": 1, "right_only": 2}).astype(int)
    cats = [(norm["scrutiny_both"], "both parties"), (norm["scrutiny_investor"], "the investor"),
            (norm["scrutiny_investee"], "the investee")]
    hits = hits.assign(cat=cat, weight=cat.map(lambda c: cats[c][0]).astype(float))
    hits = hits[hits["weight"] > 0].merge(ev[["ev", "date", "authority", "event_type"]], on="ev")
    if len(hits):
        per = hits.groupby(["i", "cat"]).agg(count=("ev", "size"), weight=("weight", "first"))
        last = hits.sort_values("date", kind="stable").groupby(["i", "cat"]).tail(1).set_index(["i", "cat"])
        per = per.join(last[["date", "authority", "event_type"]]).reset_index()
        best = per.sort_values(["i", "weight", "cat"], ascending=[True, False, True]).drop_duplicates("i")
        sc[best["i"]] = best["weight"]
        sc_f[best["i"]] = (best["count"].astype(str) + " event(s) naming " + best["cat"].map(lambda c: cats[c][1])
                           + ", latest " + best["date"].astype(str) + " " + best["authority"].astype(str) + " "
                           + best["event_type"].astype(str)).to_numpy()
    val["prior_scrutiny"] = sc
    facts["prior_scrutiny"] = sc_f
    return val, facts


def robustness(x: np.ndarray, weights: np.ndarray, draws: int, concentration: float, seed: int,
               chunk: int = 100, min_draws: int | None = None, tolerance_ranks: float = 0.0,
               tolerance_share: float = 0.0) -> dict:
    """Rank bands under Monte Carlo weight draws ~ Dirichlet(concentration * weights).

    Rank 1 is the highest score; ties rank by subject order (a stable sort, so the bands are
    reproducible). Each distinct component row is ranked once per draw (its subjects follow one
    another), kept as int32 and scored ``chunk`` draws at a time, so memory is distinct rows x
    draws taken x 4 bytes. Percentiles use numpy's default linear interpolation.

    Stopping (``min_draws``): the bands are checked at ``min_draws``, twice that, four times...
    up to ``draws``; the draws stop at the first check where no subject's 5th or 95th
    percentile rank moved since the previous check by more than the tolerance, in ranks:
    ``max(tolerance_ranks, tolerance_share * subjects)``. The weights drawn are the same
    whenever the draws stop (the first columns of one seeded draw), so a run is reproducible
    and a stop at ``draws`` gives exactly the bands of all draws. Returns ``draws`` (how many
    were used) and ``tolerance`` (ranks) with the bands."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(concentration * weights / weights.sum(), size=draws).T        # (components, draws)
    n = x.shape[0]
    # subjects with identical component rows score alike in every draw, and a stable sort ranks
    # them one after another in subject order: so each distinct row is ranked once per draw and a
    # subject's rank is its row's rank plus its place among that row's subjects (a constant).
    # At scale most relationships share a handful of rows (99,760 subjects, 1,887 rows).
    uniq, first, inv, count = np.unique(np.asarray(x, dtype=float) + 0.0, axis=0, return_index=True,
                                        return_inverse=True, return_counts=True)
    by_first = np.argsort(first, kind="stable")            # distinct rows in order of their first subject
    where = np.empty(len(uniq), dtype=np.int64)
    where[by_first] = np.arange(len(uniq))
    xu, count, inv = uniq[by_first], count[by_first], where[inv.ravel()]
    m = len(xu)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    member = np.argsort(inv, kind="stable")
    offset = np.empty(n, dtype=np.int64)                    # place among its row's subjects, 0-based
    offset[member] = np.arange(n) - start[inv[member]]
    # draw-major (Fortran order): the draws not taken are pages never touched
    ranks = np.empty((m, draws), dtype=np.int32, order="F")
    tol = max(float(tolerance_ranks), float(tolerance_share) * n)
    checks = [] if not min_draws else [d for d in (min_draws * 2 ** k for k in range(32)) if d < draws]

    def bands(d):
        """(p05, p95) per subject over the first ``d`` draws: the order statistics of each
        distinct row by partition, moved to the subject's place, then interpolated."""
        hs = [(d - 1) * q / 100 for q in (5, 95)]
        idx = sorted({j for h in hs for j in (int(np.floor(h)), min(int(np.floor(h)) + 1, d - 1))})
        part = np.ascontiguousarray(ranks[:, :d])            # one row's draws side by side
        part.partition(idx, axis=1)
        out = []
        for h in hs:
            lo = part[inv, int(np.floor(h))].astype(np.int64) + offset
            hi = part[inv, min(int(np.floor(h)) + 1, d - 1)].astype(np.int64) + offset
            out.append(lo + (h - np.floor(h)) * (hi - lo))
        return out

    done, previous, used, final = 0, None, draws, None
    for target in checks + [draws]:
        for lo in range(done, target, chunk):
            hi = min(lo + chunk, target)
            scores = xu @ w[:, lo:hi]                                              # (rows, chunk)
            order = np.argsort(-scores, axis=0, kind="stable")
            # a row's rank: 1 + the subjects of every row scoring above it
            above = np.cumsum(count[order], axis=0) - count[order] + 1
            np.put_along_axis(ranks[:, lo:hi], order, above.astype(np.int32), axis=0)
        done = target
        if target == draws:
            break
        now = bands(target)
        if previous is not None and max(np.abs(a - b).max() for a, b in zip(now, previous)) <= tol:
            used, final = target, now
            break
        previous = now
    r = ranks[:, :used].astype(np.int64)
    base = np.empty(n, dtype=np.int64)
    base[np.argsort(-(x @ weights), kind="stable")] = np.arange(1, n + 1)
    s1, s2 = r.sum(axis=1)[inv], np.einsum("ij,ij->i", r, r)[inv]         # per subject, exact in int64
    total = s1 + used * offset
    mean = total / used
    std = np.sqrt(np.maximum((s2 + 2 * offset * s1 + used * offset ** 2) / used - mean ** 2, 0.0))
    p05, p95 = final if final is not None else bands(used)
    return {"rank": base, "rank_p05": p05, "rank_p95": p95, "rank_std": std, "draws": used, "tolerance": tol}


def _stopping(rob: dict) -> dict:
    """The stopping rule of :func:`robustness` from ``antitrust.robustness`` (none when unset)."""
    return {k: rob[k] for k in ("min_draws", "tolerance_ranks", "tolerance_share") if k in rob}


def pca_weights(x: np.ndarray) -> np.ndarray:
    """Component weights from the squared loadings of the first principal component of the
    standardised components (OECD/JRC 2008, weighting by factor analysis).

    The first right singular vector of the centred, standardised matrix: what scikit-learn's
    ``make_pipeline(StandardScaler(), PCA(n_components=1))`` computes with its full LAPACK SVD
    (tested equal), without the 0.8 s import of scikit-learn in the daily run."""
    keep = x.std(axis=0) > 0
    w = np.zeros(x.shape[1])
    if keep.sum() == 0 or x.shape[0] < 2:
        return np.full(x.shape[1], 1 / x.shape[1])
    z = x[:, keep]
    z = (z - z.mean(axis=0)) / z.std(axis=0)              # StandardScaler: population std (ddof 0)
    _, _, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
    load = vt[0] ** 2                                      # the sign of a component does not matter
    w[keep] = load / load.sum()
    return w


def _component_text(rel: pd.DataFrame, val: pd.DataFrame, facts: pd.DataFrame, x: np.ndarray, weights: np.ndarray,
                    score: np.ndarray, names: dict, cited: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per relationship: the components as JSON (``json.dumps(..., sort_keys=True)`` of
    ``{component: {value, weight, contribution, facts}}``, byte for byte) and the explanation
    ("A -> B: risk 62/100 — <component> <value> (<facts>); ..." with the components by falling
    contribution, then the screens cited for the pair). Built per column: one string operation
    per component over all rows, not a dict and a json.dumps per row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(rel)
    v = val.to_numpy(dtype=float)
    contrib = (100 * weights)[None, :] * x
    enc = {}

    def cat(*parts):                             # element-wise concatenation in Arrow (C), scalars broadcast
        return pc.binary_join_element_wise(*[pa.array(q, type=pa.string()) if isinstance(q, (np.ndarray, list))
                                             else q for q in parts], "")

    def js(col: np.ndarray) -> list:            # json.dumps of each text, once per distinct text
        enc.update({t: json.dumps(t) for t in pd.unique(col).tolist() if t not in enc})
        return [enc[t] for t in col.tolist()]

    rep = lambda a: list(map(float.__repr__, a.tolist()))  # noqa: E731 - json's floats
    comp, piece = {}, []
    fx = facts.to_numpy(dtype=object)
    for k, c in enumerate(COMPONENTS):
        missing = np.isnan(v[:, k])
        value_json = np.where(missing, "null", np.array(rep(np.nan_to_num(v[:, k])), dtype=object))
        comp[c] = cat('"' + c + '": {"contribution": ', rep(contrib[:, k]), ', "facts": ', js(fx[:, k]),
                      ', "value": ', value_json, ', "weight": ' + repr(float(weights[k])) + "}")
        value_text = np.where(missing, "n/a", _fmt(np.nan_to_num(v[:, k]), "{:.2f}"))
        piece.append(cat(c.replace("_", " ") + " ", value_text, " (", [str(f) for f in fx[:, k].tolist()], ")"))
    keys = sorted(COMPONENTS)
    comps = cat("{", *[q for c in keys for q in (comp[c], ", ")][:-1], "}")
    order = np.argsort(-contrib, axis=1, kind="stable")           # ties keep the components' order
    pieces = pa.concat_arrays(piece)                               # component k of row i at k * n + i
    picked = [pieces.take(pa.array(order[:, j] * n + np.arange(n))) for j in range(len(COMPONENTS))]
    joined = pc.binary_join_element_wise(*picked, "; ")
    pair = list(zip(rel["investor_id"].tolist(), rel["investee_id"].tolist()))
    tail = [f". {cited[p]}" if p in cited else "" for p in pair]
    texts = cat(_names(rel["investor_id"], names), " -> ", _names(rel["investee_id"], names), ": risk ",
                _fmt(score, "{:.0f}"), "/100 — ", joined, tail)
    return (np.array(comps.to_pylist(), dtype=object), np.array(texts.to_pylist(), dtype=object))


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
    if rel.empty:  # no investment relationship known by the run date: nothing to score
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in OUTPUT_COLUMNS.items()})
    val, facts = components(rel, entities=entities, cfg=cfg,
                            **{k: v for k, v in rel_inputs.items() if k not in ("investments", "screens")})
    weights = np.array([a["weights"][c] for c in COMPONENTS], dtype=float)
    weights = weights / weights.sum()
    x = val.fillna(0.0).to_numpy()
    score = 100 * x @ weights
    rob = a["robustness"]
    bands = robustness(x, weights, rob["draws"], rob["dirichlet_concentration"], rob["seed"], **_stopping(rob))
    wp = pca_weights(x)
    names = entities.set_index("entity_id")["name"].to_dict()
    nm = lambda e: names.get(e, e)  # noqa: E731
    deals = rel_inputs["investments"][["investor_id", "investee_id"]].assign(
        r=pd.to_numeric(rel_inputs["investments"]["ref_row"]).astype(int)).drop_duplicates().sort_values("r")
    # each pair's deal rows in file order; most pairs have one, so only the others are joined
    txt = "investments.csv#" + deals["r"].astype(str)
    many = deals.duplicated(["investor_id", "investee_id"], keep=False).to_numpy()
    refs = pd.concat([
        pd.Series(txt[~many].to_numpy(), index=pd.MultiIndex.from_frame(deals.loc[~many, ["investor_id", "investee_id"]])),
        txt[many].groupby([deals.loc[many, "investor_id"], deals.loc[many, "investee_id"]]).agg(";".join)])
    refs.index.names = ["investor_id", "investee_id"]
    # the JSON components and the explanation, assembled column by column (:func:`_component_text`)
    from .screens import screens_summary

    cited = screens_summary(rel_inputs.get("screens"))
    comps, texts = _component_text(rel, val, facts, x, weights, score, names, cited)
    keys = rel[["investor_id", "investee_id"]]
    out = pd.DataFrame({
        "subject_type": "relationship", "subject_id": (keys["investor_id"] + "->" + keys["investee_id"]).to_numpy(),
        "investor_id": keys["investor_id"].to_numpy(), "investee_id": keys["investee_id"].to_numpy(),
        "score": score.astype(float), "rank": bands["rank"].astype(int), "rank_p05": bands["rank_p05"].astype(float),
        "rank_p95": bands["rank_p95"].astype(float), "rank_std": bands["rank_std"].astype(float),
        "score_pca": (100 * x @ wp).astype(float), "components": comps, "explanation": texts,
        "source_refs": keys.merge(refs.rename("r").reset_index(), on=["investor_id", "investee_id"], how="left")["r"]
        .fillna("").to_numpy()})
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
    fx = x[best.index.to_numpy()]                  # each firm's riskiest relationship's components (no data: 0)
    fb = robustness(fx, weights, rob["draws"], rob["dirichlet_concentration"], rob["seed"], **_stopping(rob))
    for k in ("rank", "rank_p05", "rank_p95", "rank_std"):
        firms[k] = fb[k]
    out = pd.concat([out, firms], ignore_index=True)
    prev = (previous.set_index(["subject_type", "subject_id"])["score"] if previous is not None and len(previous)
            else pd.Series(dtype=float))
    if len(prev):
        out["previous_score"] = out[["subject_type", "subject_id"]].merge(
            prev.rename("p").reset_index(), on=["subject_type", "subject_id"], how="left")["p"].to_numpy(dtype=float)
    else:
        out["previous_score"] = np.nan
    out["score_change"] = out["score"] - out["previous_score"]
    out["movement_z"], out["movement_flag"] = np.nan, False
    for t in ("relationship", "firm"):
        mask = out["subject_type"] == t
        z, flag = movement_flags(out.loc[mask, "score_change"], a["movement"]["robust_z_flag"])
        out.loc[mask, "movement_z"] = z
        out.loc[mask, "movement_flag"] = flag
    out["movement_flag"] = out["movement_flag"].astype(bool)
    return out
