"""Circular financing: the directed money graph and its round trips (networkx).

Nodes are ownership groups (Azure -> Microsoft, AWS -> Amazon). Edges point the way money
flows: ``equity`` investor -> investee, ``spend`` buyer -> supplier (compute commitments) and
``supply`` cloud -> chip vendor, implied where a commitment names the accelerator family a cloud
runs it on (the amount of that purchase is unknown). Parallel deals of one kind between the same
pair are summed, counted amounts (reported, lower bound) apart from "up to" ceilings.

A round trip is a simple cycle of at most three hops with at least one equity edge (A invests
in B, B commits spend to A; or Nvidia -> Anthropic -> Microsoft -> Nvidia). Each loop is
rotated to start at the investor of its first equity hop: dollars out are that investment,
dollars back the flow on the last hop into the origin; the round-trip ratio is back / out on
counted amounts, and separately with ceilings included.
"""
from __future__ import annotations

import hashlib
import json

import networkx as nx
import numpy as np
import pandas as pd

from .lockin import prepare_commitments, prepare_investments


def money_graph(investments: pd.DataFrame, commitments: pd.DataFrame, entities: pd.DataFrame, cfg: dict,
                loops_only: bool = False) -> nx.DiGraph:
    """DiGraph of groups; edge attribute ``flows`` maps kind -> {usd, usd_ceiling, first_date,
    last_date, n_deals}; ``usd`` is None when no counted amount is known. The source rows of an
    edge come from :func:`edge_refs`.

    With ``loops_only`` only the edges inside a strongly connected component are kept (no other
    edge can lie on a loop: e.g. every index fund's stakes go): the loops found are the same,
    the graph a fraction of the size."""
    inv = prepare_investments(investments, entities, cfg)
    com = prepare_commitments(commitments, entities, cfg)
    eq = pd.DataFrame({"src": inv["investor_group"], "dst": inv["investee_group"], "kind": "equity",
                       "usd": inv["usd"], "usd_ceiling": inv["usd_ceiling"], "date": inv["date"],
                       "ref": "investments.csv#" + inv["ref_row"].astype(str)})
    sp = pd.DataFrame({"src": com["buyer_group"], "dst": com["supplier_group"], "kind": "spend", "usd": com["usd"],
                       "usd_ceiling": com["usd_ceiling"], "date": com["date"],
                       "ref": "compute_commitments.csv#" + com["ref_row"].astype(str)})
    su = com[com["chip_vendor"].notna()]
    su = pd.DataFrame({"src": su["supplier_group"], "dst": su["chip_vendor"], "kind": "supply", "usd": np.nan,
                       "usd_ceiling": np.nan, "date": su["date"],
                       "ref": "compute_commitments.csv#" + su["ref_row"].astype(str) + " (accelerator family)"})
    edges = pd.concat([eq, sp, su], ignore_index=True)
    edges = edges[edges["src"] != edges["dst"]]
    if loops_only and len(edges):
        # an edge lies on a cycle only inside one strongly connected component (one linear pass,
        # scipy.sparse.csgraph on integer-coded nodes)
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        codes, nodes = pd.factorize(pd.concat([edges["src"], edges["dst"]], ignore_index=True))
        src, dst = codes[: len(edges)], codes[len(edges):]
        adj = csr_matrix((np.ones(len(src)), (src, dst)), shape=(len(nodes), len(nodes)))
        _, comp = connected_components(adj, directed=True, connection="strong")
        edges = edges[comp[src] == comp[dst]]
    key = ["src", "dst", "kind"]
    grouped = edges.groupby(key)
    agg = grouped.agg(usd=("usd", "sum"),
                      n_usd=("usd", "count"), usd_ceiling=("usd_ceiling", "sum"), n_ceiling=("usd_ceiling", "count"),
                      first_date=("date", "min"), last_date=("date", "max"), n_deals=("ref", "size"))
    agg = agg.reset_index()
    usd = agg["usd"].astype(float).where(agg["n_usd"] > 0)
    ceiling = agg["usd_ceiling"].astype(float).where(agg["n_ceiling"] > 0)
    g = nx.DiGraph()
    flows: dict[tuple, dict] = {}
    for src, dst, kind, u, c, f, last, n in zip(agg["src"], agg["dst"], agg["kind"], usd.tolist(), ceiling.tolist(),
                                                agg["first_date"].tolist(), agg["last_date"].tolist(),
                                                agg["n_deals"].tolist()):
        flows.setdefault((src, dst), {})[kind] = {
            "usd": None if u != u else u, "usd_ceiling": None if c != c else c,
            "first_date": None if f is None or f != f else f, "last_date": None if last is None or last != last else last,
            "n_deals": int(n)}
    g.add_edges_from((u, v, {"flows": f}) for (u, v), f in flows.items())
    # the source rows of every (src, dst, kind), read only for the edges on a loop (edge_refs)
    g.graph["refs"] = edges[key + ["ref"]].drop_duplicates().set_index(key).sort_index()["ref"]
    return g


def edge_refs(g: nx.DiGraph, keys: list[tuple[str, str, str]]) -> dict[tuple, list[str]]:
    """Sorted source-row references (``file#row``) of the flows ``(src, dst, kind)`` in ``keys``
    (one join for all of them)."""
    if "refs" not in g.graph:  # a graph built by hand may carry them on the flow itself
        return {(u, v, k): sorted(g[u][v]["flows"][k].get("refs", [])) for u, v, k in keys}
    want = pd.DataFrame(sorted(set(keys)), columns=["src", "dst", "kind"])
    hit = want.merge(g.graph["refs"].reset_index(), on=["src", "dst", "kind"]).sort_values("ref")
    out = {k: [] for k in keys}
    for u, v, k, ref in hit[["src", "dst", "kind", "ref"]].itertuples(index=False):
        out[(u, v, k)].append(ref)
    return out


def _hop_amount(flows: dict, prefer: tuple[str, ...]) -> tuple[str, float | None, float | None]:
    for kind in prefer:
        if kind in flows:
            f = flows[kind]
            return kind, f["usd"], f["usd_ceiling"]
    kind = next(iter(flows))
    return kind, flows[kind]["usd"], flows[kind]["usd_ceiling"]


def _cycles_through_equity(g: nx.DiGraph, max_hops: int = 3) -> list[list[tuple[str, str]]]:
    """Every simple cycle of 2..max_hops (2 or 3) hops with at least one equity edge, as its hops,
    starting at its smallest (from, to) equity hop.

    A bounded search anchored on equity edges, done as hash joins: a 2-hop loop is an equity
    edge u->v with an edge v->u; a 3-hop loop an equity edge u->v with v->w and w->u. The work is
    proportional to the 2-paths leaving equity edges, so it grows with the edges, not with the
    number of all cycles a general enumeration would visit."""
    if max_hops not in (2, 3):
        raise ValueError("max_hops must be 2 or 3")
    edges = pd.DataFrame([(u, v, "equity" in d["flows"]) for u, v, d in g.edges(data=True) if u != v],
                         columns=["u", "v", "equity"])
    if edges.empty:
        return []
    eq = edges.loc[edges["equity"] & edges["u"].isin(edges["v"]), ["u", "v"]]   # u must be reachable back
    anyedge = edges[["u", "v"]]
    found = [eq.merge(anyedge.rename(columns={"u": "v", "v": "u"}), on=["u", "v"]).assign(w=None)]
    if max_hops == 3:
        two = eq.merge(anyedge.rename(columns={"u": "v", "v": "w"}), on="v")
        two = two[(two["w"] != two["u"])]
        found.append(two.merge(anyedge.rename(columns={"u": "w", "v": "u"}), on=["w", "u"]))
    cycles, seen = [], set()
    for u, v, w in pd.concat(found, ignore_index=True)[["u", "v", "w"]].itertuples(index=False):
        nodes = [u, v] if pd.isna(w) else [u, v, w]
        hops = [(nodes[i], nodes[(i + 1) % len(nodes)]) for i in range(len(nodes))]
        eq_hops = [h for h in hops if "equity" in g[h[0]][h[1]]["flows"]]
        start = hops.index(min(eq_hops))
        hops = hops[start:] + hops[:start]
        if tuple(hops) not in seen:
            seen.add(tuple(hops))
            cycles.append(hops)
    return cycles


def round_trips(g: nx.DiGraph, max_hops: int = 3) -> pd.DataFrame:
    """Every simple cycle of 2..max_hops hops with an equity edge, one row per loop."""
    rows = []
    cycles = _cycles_through_equity(g, max_hops)
    chosen = [[_hop_amount(g[u][v]["flows"], ("equity",) if n == 0 else ("spend", "supply", "equity"))[0]
               for n, (u, v) in enumerate(hops)] for hops in cycles]
    ref_of = edge_refs(g, [(u, v, k) for hops, kinds in zip(cycles, chosen) for (u, v), k in zip(hops, kinds)])
    for hops in cycles:
        path = [u for u, _ in hops] + [hops[0][0]]
        details, refs, dates = [], [], []
        for n, (u, v) in enumerate(hops):
            flows = g[u][v]["flows"]
            prefer = ("equity",) if n == 0 else ("spend", "supply", "equity")
            kind, usd, ceiling = _hop_amount(flows, prefer)
            details.append({"from": u, "to": v, "kind": kind, "usd_bn": usd, "usd_ceiling_bn": ceiling,
                            "other_kinds": sorted(set(flows) - {kind}),
                            "first_date": flows[kind]["first_date"], "last_date": flows[kind]["last_date"]})
            refs.extend(ref_of[(u, v, kind)])
            dates.extend([flows[kind]["first_date"], flows[kind]["last_date"]])
        out, back = details[0], details[-1]
        ratio = back["usd_bn"] / out["usd_bn"] if out["usd_bn"] and back["usd_bn"] is not None else None
        out_all = (out["usd_bn"] or 0) + (out["usd_ceiling_bn"] or 0)
        back_all = (back["usd_bn"] or 0) + (back["usd_ceiling_bn"] or 0)
        ratio_all = back_all / out_all if out_all and (back["usd_bn"] is not None or back["usd_ceiling_bn"] is not None) else None
        key = ">".join(path)
        rows.append({
            "loop_id": hashlib.sha1(key.encode()).hexdigest()[:12], "path": key, "hops": len(hops),
            "edge_kinds": ">".join(d["kind"] for d in details),
            "out_usd_bn": out["usd_bn"], "out_ceiling_usd_bn": out["usd_ceiling_bn"],
            "back_usd_bn": back["usd_bn"], "back_ceiling_usd_bn": back["usd_ceiling_bn"],
            "round_trip_ratio": ratio, "ratio_incl_ceilings": ratio_all,
            "first_date": min(dates), "last_date": max(dates), "hop_details": json.dumps(details),
            "source_refs": ";".join(sorted(set(refs)))})
    cols = ["loop_id", "path", "hops", "edge_kinds", "out_usd_bn", "out_ceiling_usd_bn", "back_usd_bn",
            "back_ceiling_usd_bn", "round_trip_ratio", "ratio_incl_ceilings", "first_date", "last_date",
            "hop_details", "source_refs"]
    return pd.DataFrame(rows, columns=cols).sort_values(["hops", "path"]).reset_index(drop=True)
