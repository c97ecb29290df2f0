"""Vendor lock-in per model builder and layer (cloud, accelerator, all), 0-100.

Components (each 0-1, stored with its value, weight and contribution; config/risk.yaml):

* ``supplier_concentration``: HHI / 10,000 of the buyer's committed compute by supplier group,
  in USD where any counted USD amount exists, otherwise in GW, otherwise in H100e of the
  owner -> user compute links of Epoch's data centers and clusters (the basis is stored; bases are
  never mixed). On the H100e basis the buyer's own installed H100e is known too, so the HHI is
  multiplied by the share of its compute that it rents (a lab that owns most of its compute is
  not locked in by the little it rents);
* ``accelerator_dependence``: the largest share of committed compute (same basis) known to run
  on one vendor's proprietary stack (Nvidia/CUDA, TPU, Trainium, AMD Instinct, ...); compute
  whose chip family is unknown counts for no vendor, so this is a lower bound;
* ``equity_entanglement``: the share of the buyer's known outside funding that comes from its
  own compute suppliers (in that layer);
* ``contract_weight``: committed USD relative to the capital raised (10x = 1) and the
  USD-weighted term (10 years = 1), 0.7/0.3;
* ``exclusivity``: 1 if a supplier-investor holds an exclusivity or ROFR right over the buyer
  that has not ended (end dates listed).

Only ``reported`` and ``lower_bound`` amounts count; "up to" ceilings are listed apart. A
component without data is left out and the weights of the others rescaled (``coverage`` is the
weight share that had data); a buyer with no commitment in a layer gets no score.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from .ownership import group_of, to_group

LAYERS = ("cloud", "accelerator", "all")


def supplier_layer(entities: pd.DataFrame) -> dict[str, str]:
    """entity_id -> 'cloud' or 'accelerator' (the first of its layers that is one of them)."""
    out = {}
    for eid, layers in zip(entities["entity_id"], entities["layers"].fillna("")):
        out[eid] = next((lay for lay in layers.split(";") if lay in ("cloud", "accelerator")), "other")
    return out


def model_builders(entities: pd.DataFrame) -> list[str]:
    is_model = entities["layers"].fillna("").str.split(";").map(lambda xs: "model" in xs)
    return sorted(entities.loc[is_model & (entities["kind"] == "firm"), "entity_id"])


def prepare_commitments(commitments: pd.DataFrame, entities: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Commitments with group ids, supplier layer, counted USD/GW and the chip vendor."""
    group = group_of(entities)
    counted = set(cfg["amounts"]["counted_bases"])
    c = commitments.copy()
    c["buyer_group"] = to_group(c["buyer_id"], group)
    c["supplier_group"] = to_group(c["supplier_id"], group)
    c["supplier_layer"] = c["supplier_id"].map(supplier_layer(entities))
    c["usd"], c["usd_ceiling"] = _usd(c, counted)
    c["gw"] = c["power_gw"].where(c["power_basis"].isin(counted))
    c["chip_vendor"] = c["accelerator_family"].map(cfg["lockin"]["accelerator_vendor"])
    return c


def prepare_investments(investments: pd.DataFrame, entities: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    group = group_of(entities)
    counted = set(cfg["amounts"]["counted_bases"])
    i = investments.copy()
    i["investor_group"] = to_group(i["investor_id"], group)
    i["investee_group"] = to_group(i["investee_id"], group)
    i["usd"], i["usd_ceiling"] = _usd(i, counted)
    return i


def _usd(deals: pd.DataFrame, counted: set[str]) -> tuple[pd.Series, pd.Series]:
    """USD bn counted as money (reported, lower bounds...) and USD bn kept apart as "up to" ceilings."""
    return (deals["amount_usd_bn"].where(deals["amount_basis"].isin(counted)),
            deals["amount_usd_bn"].where(deals["amount_basis"] == "ceiling"))


def _basis_value(c: pd.DataFrame) -> pd.DataFrame:
    """Per (buyer, layer): the basis (usd if any counted USD, else gw, else h100e) and each row's value on it."""
    if "h100e" not in c:
        c = c.assign(h100e=np.nan)
    totals = c.groupby(["buyer_group", "layer"]).agg(usd_total=("usd", "sum"), gw_total=("gw", "sum"))
    totals = totals.join(c.groupby(["buyer_group", "layer"])["h100e"].sum().rename("h100e_total"))
    basis = np.where(totals["usd_total"] > 0, "usd", np.where(totals["gw_total"] > 0, "gw",
                                                              np.where(totals["h100e_total"] > 0, "h100e", None)))
    totals["basis"] = basis
    c = c.join(totals["basis"], on=["buyer_group", "layer"])
    c["value"] = np.where(c["basis"] == "usd", c["usd"], np.where(c["basis"] == "gw", c["gw"],
                                                                  np.where(c["basis"] == "h100e", c["h100e"], np.nan)))
    return c


def exclusivity_flags(stakes: pd.DataFrame, entities: pd.DataFrame, pattern: str, about: str) -> pd.DataFrame:
    """Latest exclusivity/ROFR text (matching ``about``) per (investor group, investee group),
    active unless it matches ``pattern`` (ended, removed, replaced...)."""
    group = group_of(entities)
    text = stakes["exclusivity_or_rofr"]
    s = stakes[text.notna() & text.fillna("").str.contains(about)].copy()
    if s.empty:
        return pd.DataFrame(columns=["investor_group", "investee_group", "text", "as_of", "active"])
    s["investor_group"] = to_group(s["investor_id"], group)
    s["investee_group"] = to_group(s["investee_id"], group)
    from .dates import date_end

    s = s.assign(_end=date_end(s["as_of"]), ref_row=pd.to_numeric(s["ref_row"]))
    s = s.sort_values(["_end", "ref_row"]).groupby(["investor_group", "investee_group"]).tail(1)
    ended = re.compile(pattern)
    return pd.DataFrame({"investor_group": s["investor_group"], "investee_group": s["investee_group"],
                         "text": s["exclusivity_or_rofr"], "as_of": s["as_of"],
                         "active": ~s["exclusivity_or_rofr"].str.contains(ended)}).reset_index(drop=True)


def link_commitments(links: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """Owner -> user compute links (``riskmodels.sources.epoch.links``) as commitment-like rows of
    :func:`prepare_commitments`: the user buys compute from the owner, measured in H100e only (no
    USD, no GW, chip family unknown); ``link_ref`` cites the Epoch row."""
    group = group_of(entities)
    return pd.DataFrame({
        "buyer_id": links["user_id"].to_numpy(), "supplier_id": links["owner_id"].to_numpy(),
        "buyer_group": to_group(links["user_id"], group).to_numpy(),
        "supplier_group": to_group(links["owner_id"], group).to_numpy(),
        "supplier_layer": links["owner_id"].map(supplier_layer(entities)).fillna("other").to_numpy(),
        "usd": np.nan, "usd_ceiling": np.nan, "gw": np.nan, "h100e": links["h100e"].to_numpy(float),
        "chip_vendor": None, "term_years": np.nan, "date": None, "ref_row": np.nan,
        "link_ref": links["source_ref"].to_numpy()})


def lockin_scores(commitments: pd.DataFrame, investments: pd.DataFrame, stakes: pd.DataFrame,
                  entities: pd.DataFrame, cfg: dict, links: pd.DataFrame | None = None,
                  own_h100e: dict | None = None) -> pd.DataFrame:
    """One row per model builder and layer: score (0-100 or NaN), coverage, basis, top supplier,
    components (JSON: value, weight, contribution, facts), explanation and source rows.
    ``links``: owner -> user compute links counted where a buyer has no USD or GW figure;
    ``own_h100e``: entity id -> H100e it owns (installed), for the rented share on that basis."""
    lc = cfg["lockin"]
    weights, norm = lc["weights"], lc["normalise"]
    names = entities.set_index("entity_id")["name"].to_dict()
    c = prepare_commitments(commitments, entities, cfg).assign(h100e=np.nan, link_ref=None)
    if links is not None and len(links):
        c = pd.concat([c, link_commitments(links, entities)], ignore_index=True)
    c = pd.concat([c.assign(layer=c["supplier_layer"]), c.assign(layer="all")], ignore_index=True)
    c = c[c["layer"].isin(LAYERS)]
    c = _basis_value(c)
    inv = prepare_investments(investments, entities, cfg)
    excl = exclusivity_flags(stakes, entities, lc["ended_pattern"], lc["exclusivity_pattern"])

    key = ["buyer_group", "layer"]
    v = c[c["value"].notna()]
    by_sup = v.groupby(key + ["supplier_group"])["value"].sum().rename("v").reset_index()
    by_sup["share"] = by_sup["v"] / by_sup.groupby(key)["v"].transform("sum")
    hhi = (by_sup.assign(sq=(100 * by_sup["share"]) ** 2).groupby(key)["sq"].sum() / 10_000).rename("supplier_concentration")
    # H100e basis: scale by the rented share of the buyer's compute (own installed H100e by group)
    own_g = pd.Series(own_h100e or {}, dtype=float)
    own_g = own_g.groupby(to_group(pd.Series(own_g.index, index=own_g.index), group_of(entities))).sum()
    rented = v[v["basis"] == "h100e"].groupby(key)["value"].sum().rename("rented_h100e")
    own_of = pd.Series(rented.index.get_level_values("buyer_group").map(own_g).fillna(0.0).to_numpy(float),
                       index=rented.index, name="own_h100e")
    rented_share = (rented / (rented + own_of)).rename("rented_share")
    hhi = hhi.mul(rented_share.reindex(hhi.index).fillna(1.0)).rename("supplier_concentration")
    top = by_sup.sort_values("share", ascending=False).groupby(key).head(1).set_index(key)[["supplier_group", "share"]]
    fam = v[v["chip_vendor"].notna()]
    by_vendor = fam.groupby(key + ["chip_vendor"])["value"].sum().rename("v").reset_index()
    # share of ALL committed compute in the layer known to run on the vendor (a lower bound
    # when the family of some commitments is unknown: nothing is guessed)
    by_vendor = by_vendor.join(v.groupby(key)["value"].sum().rename("layer_total"), on=key)
    by_vendor["share"] = by_vendor["v"] / by_vendor["layer_total"]
    topv = by_vendor.sort_values("share", ascending=False).groupby(key).head(1).set_index(key)[["chip_vendor", "share"]]
    coverage_fam = (fam.groupby(key)["value"].sum() / v.groupby(key)["value"].sum()).rename("family_coverage")
    suppliers = v.groupby(key)["supplier_group"].agg(lambda xs: sorted(set(xs))).rename("suppliers")
    committed_usd = c.groupby(key)["usd"].sum(min_count=1).rename("committed_usd")
    ceiling_usd = c.groupby(key)["usd_ceiling"].sum(min_count=1).rename("ceiling_usd")
    term = c[c["usd"].notna() & c["term_years"].notna()]
    term_w = (term.assign(w=term["usd"] * term["term_years"]).groupby(key)["w"].sum()
              / term.groupby(key)["usd"].sum()).rename("term_years")
    rowed = c[c["ref_row"].notna()]
    cr = rowed[["buyer_group", "layer", "ref_row"]].assign(r=pd.to_numeric(rowed["ref_row"]).astype(int)).drop_duplicates(
        key + ["r"]).sort_values("r")
    refs = ("compute_commitments.csv#" + cr["r"].astype(str)).groupby([cr["buyer_group"], cr["layer"]]).agg(";".join)
    # compute links count only where they are the basis (no USD or GW figure for the buyer and layer)
    lr = c[c["link_ref"].notna() & c["value"].notna()]
    if len(lr):
        lrefs = lr.groupby(key)["link_ref"].agg(lambda xs: ";".join(dict.fromkeys(xs)))
        refs = pd.concat([refs, lrefs]).groupby(level=[0, 1]).agg(";".join)
    basis = c.groupby(key)["basis"].first()
    raised = inv.groupby("investee_group")["usd"].sum(min_count=1)
    raised_ceiling = inv.groupby("investee_group")["usd_ceiling"].sum(min_count=1)

    # every (model builder, layer), with each input aligned by a join (no per-buyer filtering)
    grid = pd.MultiIndex.from_product([model_builders(entities), list(LAYERS)], names=key)
    g = pd.DataFrame(index=grid)
    g = g.join(basis.rename("basis")).join(hhi).join(top.rename(columns={"supplier_group": "ts", "share": "tsh"}))
    g = g.join(topv.rename(columns={"chip_vendor": "tv", "share": "tvs"})).join(coverage_fam)
    g = g.join(suppliers.map(len).rename("n_sup")).join(committed_usd).join(ceiling_usd).join(term_w)
    g = g.join(rented).join(own_of).join(rented_share)
    sup_sets = v[key + ["supplier_group"]].drop_duplicates()
    funded_total = inv.groupby("investee_group")["usd"].sum()
    from_sup = (inv.merge(sup_sets, left_on=["investee_group", "investor_group"], right_on=["buyer_group", "supplier_group"])
                .groupby(key)["usd"].sum())
    buyers = g.index.get_level_values("buyer_group")
    g["funded_total"] = buyers.map(funded_total).to_numpy(dtype=float)
    g["from_sup"] = from_sup.reindex(g.index).fillna(0.0).to_numpy()
    g["raised"] = buyers.map(raised).to_numpy(dtype=float)
    g["raised_ceiling"] = buyers.map(raised_ceiling).to_numpy(dtype=float)
    e = (excl.reset_index(names="_o").merge(sup_sets, left_on=["investee_group", "investor_group"],
                                            right_on=["buyer_group", "supplier_group"]).sort_values("_o", kind="stable"))
    e["who"] = e["investor_group"].map(lambda x: names.get(x, x))
    active = e["active"].astype(bool).to_numpy()
    act = e[active]
    act_text = ("" + act["who"] + " since " + act["as_of"].astype(str) + ": " + act["text"].astype(str)).groupby(
        [act["buyer_group"], act["layer"]]).agg("; ".join)
    ended = e[~active]
    ended_text = ("; ended " + ended["as_of"].astype(str) + ": " + ended["who"]).groupby(
        [ended["buyer_group"], ended["layer"]]).agg("".join)
    g = g.join(act_text.rename("act_text")).join(ended_text.rename("ended_text"))
    g["has"] = g["basis"].notna() & g["ts"].notna()

    rows = []
    total_w = sum(weights.values())
    for (buyer, layer), r in zip(g.index, g.to_dict("records")):
        comps: dict[str, dict] = {}
        has = r["has"]
        if has:
            ts, tsh = r["ts"], r["tsh"]
            rent = (f"; rents {r['rented_h100e']:,.0f} H100e and owns {r['own_h100e']:,.0f} in counted clusters: "
                    f"the HHI times the rented share {r['rented_share']:.2f}" if r["basis"] == "h100e"
                    and pd.notna(r["rented_share"]) else "")
            comps["supplier_concentration"] = {
                "value": float(r["supplier_concentration"]), "facts": f"{int(r['n_sup'])} supplier(s) on a "
                f"{r['basis'].upper()} basis; top {names.get(ts, ts)} {100 * tsh:.0f}%{rent}"}
            if pd.notna(r["tv"]):
                tv, tvs = r["tv"], r["tvs"]
                comps["accelerator_dependence"] = {
                    "value": float(tvs), "facts": f"{100 * tvs:.0f}% of committed compute is known to run on "
                    f"{names.get(tv, tv)} hardware (chip family unknown for {100 * (1 - r['family_coverage']):.0f}%)"}
            total = r["funded_total"] if pd.notna(r["funded_total"]) else 0.0
            if total > 0:
                fs = r["from_sup"]
                comps["equity_entanglement"] = {
                    "value": float(fs / total), "facts": f"${fs:g}bn of ${total:g}bn known outside funding "
                    f"(excl. ceilings) comes from its suppliers"}
            cu, rz, tw = r["committed_usd"], r["raised"], r["term_years"]
            parts, facts = [], []
            if pd.notna(cu) and pd.notna(rz) and rz > 0:
                ratio = cu / rz
                parts.append((norm["contract_ratio_weight"], min(1.0, ratio / norm["contract_ratio_full"])))
                facts.append(f"${cu:g}bn committed vs ${rz:g}bn raised ({ratio:.1f}x)")
            if pd.notna(tw):
                parts.append((1 - norm["contract_ratio_weight"], min(1.0, tw / norm["term_years_full"])))
                facts.append(f"USD-weighted term {tw:.1f} years")
            if parts:
                comps["contract_weight"] = {"value": float(sum(w * x for w, x in parts) / sum(w for w, _ in parts)),
                                            "facts": "; ".join(facts)}
            act_t = r["act_text"] if isinstance(r["act_text"], str) else ""
            comps["exclusivity"] = {
                "value": 1.0 if act_t else 0.0,
                "facts": (act_t or "no active exclusivity/ROFR known")
                + (r["ended_text"] if isinstance(r["ended_text"], str) else "")}
        avail = {n: d for n, d in comps.items() if d["value"] is not None and not np.isnan(d["value"])}
        wsum = sum(weights[n] for n in avail)
        for n, d in avail.items():
            d["weight"] = weights[n]
            d["contribution"] = 100 * weights[n] * d["value"] / wsum if wsum else 0.0
        score = float(sum(d["contribution"] for d in avail.values())) if avail else np.nan
        who = names.get(buyer, buyer)
        if not has:
            explanation = f"{who} ({layer}): no compute commitment with a counted amount is known in this layer"
        else:
            ordered = sorted(avail.items(), key=lambda kv: -kv[1]["contribution"])
            explanation = f"{who} ({layer}) lock-in {score:.0f}/100: " + "; ".join(
                f"{n.replace('_', ' ')} {d['value']:.2f} ({d['facts']})" for n, d in ordered)
            if pd.notna(r["ceiling_usd"]):
                explanation += f"; ceilings kept apart: ${r['ceiling_usd']:g}bn 'up to'"
        rows.append({
            "buyer_id": buyer, "layer": layer, "score": score, "coverage": wsum / total_w,
            "basis": r["basis"] if has else None,
            "top_supplier_id": r["ts"] if has else None,
            "top_supplier_share_pct": 100 * float(r["tsh"]) if has else None,
            "committed_usd_bn": float(r["committed_usd"]) if has and pd.notna(r["committed_usd"]) else None,
            "ceiling_usd_bn": float(r["ceiling_usd"]) if has and pd.notna(r["ceiling_usd"]) else None,
            "raised_usd_bn": float(r["raised"]) if pd.notna(r["raised"]) else None,
            "raised_ceiling_usd_bn": float(r["raised_ceiling"]) if pd.notna(r["raised_ceiling"]) else None,
            "components": json.dumps(avail, sort_keys=True), "explanation": explanation,
            "source_refs": refs.get((buyer, layer), "")})
    return pd.DataFrame(rows)
