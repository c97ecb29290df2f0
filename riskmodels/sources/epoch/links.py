"""Owner -> user compute links from Epoch AI data centers and GPU clusters.

A site (data center or counted cluster) whose ``Users`` cell names a registry firm other than an
owner becomes one link per owner x user pair (Amazon -> Anthropic for New Carlisle, Oracle ->
OpenAI for Stargate Abilene): its H100e, power (MW) and capital cost (2025 USD bn) are split
equally over the site's pairs; the users cell's hashtag (``#confident``, ``#likely``,
``#speculative``) is the link's confidence. Users the alias table does not know are free-text
categories ("Cloud", "Academia"), not firms, and are dropped; so are links inside one ownership
group (Google Cloud -> Google DeepMind, Microsoft -> Microsoft Azure). Vectorised (explode/merge).

Units: compute in H100e, power in MW, money in USD bn (Epoch's 2025 dollars).
"""
from __future__ import annotations

import pandas as pd

from .clusters import counted, resolve, split_tagged

COLUMNS = ["owner_id", "user_id", "origin", "site", "h100e", "power_mw", "capital_cost_usd_bn", "confidence",
           "release_sha256", "source_ref"]


def owner_user_pairs(sites: pd.DataFrame, site_col: str, aliases: pd.DataFrame, cfg: dict,
                     parents: dict | None = None) -> pd.DataFrame:
    """One row per (site, owner, other user): ``owner_id``, ``user_id``, ``site``, ``row`` (the
    site's data row), ``confidence`` and each of ``h100e``, ``power_mw``, ``capital_cost_usd_bn``
    present in ``sites``, divided by the site's number of pairs."""
    ctx = cfg.get("alias_context", "compute")
    skip = cfg["unattributed_names"]
    own = split_tagged(sites["owner"].where(~sites["owner"].isin(skip), ""))
    use = split_tagged(sites["users"].where(~sites["users"].isin(skip), ""))
    own = own[~own["name"].isin(skip)].assign(owner_id=lambda d: resolve(d["name"], aliases, ctx))
    use = use[~use["name"].isin(skip)].assign(user_id=lambda d: resolve(d["name"], aliases, ctx))
    use = use[~use["user_id"].str.startswith("epoch:")]                   # firms only
    # a user who is also one of the site's owners is not a dependency (anti-join on idx, id)
    co = own[["idx", "owner_id"]].rename(columns={"owner_id": "user_id"}).assign(_owner=True)
    use = use.merge(co.drop_duplicates(), on=["idx", "user_id"], how="left")
    use = use[use["_owner"].isna()].drop(columns="_owner")
    pairs = own[["idx", "owner_id"]].merge(use[["idx", "user_id", "confidence"]], on="idx")
    top = (lambda ids: ids.map(parents or {}).fillna(ids))                # the group of each id  # noqa: E731
    pairs = pairs[top(pairs["owner_id"]).to_numpy() != top(pairs["user_id"]).to_numpy()]
    pairs = pairs.drop_duplicates(["idx", "owner_id", "user_id"])
    values = [c for c in ("h100e", "power_mw", "capital_cost_usd_bn") if c in sites]
    n = pairs.groupby("idx")["idx"].transform("size").to_numpy()
    pos = pd.Index(sites.index).get_indexer(pairs["idx"])
    out = pairs.assign(site=sites[site_col].to_numpy()[pos], row=sites["row"].to_numpy()[pos],
                       **{c: sites[c].to_numpy(float)[pos] / n for c in values})
    return out.drop(columns="idx").reset_index(drop=True)


def compute_links(centers: pd.DataFrame | None, clusters: pd.DataFrame | None, aliases: pd.DataFrame, cfg: dict,
                  shas: dict[str, str], parents: dict | None = None) -> pd.DataFrame:
    """The links of one run (:data:`COLUMNS`): data centers (origin ``data_center``) and counted
    GPU clusters (origin ``cluster``); ``source_ref`` is ``epoch:<dataset>@<sha256 prefix>#<row>``."""
    parts = []
    for origin, frame, dataset, site_col in (("data_center", centers, "data_centers", "title"),
                                             ("cluster", None if clusters is None else counted(clusters, cfg),
                                              "gpu_clusters", "name")):
        if frame is None or frame.empty:
            continue
        p = owner_user_pairs(frame, site_col, aliases, cfg, parents)
        if p.empty:
            continue
        sha = shas[dataset]
        parts.append(p.assign(origin=origin, release_sha256=sha,
                              source_ref=f"epoch:{dataset}@{sha[:12]}#" + p["row"].astype(str)))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(parts, ignore_index=True).reindex(columns=COLUMNS)
    # one row per key: a site listing the same pair twice is already deduplicated; sum if two rows share a name
    key = ["owner_id", "user_id", "origin", "site"]
    g = out.groupby(key, dropna=False, sort=False)
    res = pd.concat([g[["h100e", "power_mw", "capital_cost_usd_bn"]].sum(min_count=1),
                     g[["confidence", "release_sha256"]].first(), g["source_ref"].agg(";".join)], axis=1)
    return res.reset_index()[COLUMNS].sort_values("h100e", ascending=False, na_position="last").reset_index(drop=True)


def lockin_links(links: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """The links lock-in counts: confidence at least ``links.lockin_min_confidence`` (an untagged
    users cell counts as confirmed by Epoch's listing) and a positive H100e."""
    order = {c: i for i, c in enumerate(cfg["links"]["confidence_order"])}
    floor = order[cfg["links"]["lockin_min_confidence"]]
    rank = links["confidence"].map(order).fillna(len(order))
    return links[(rank >= floor) & (links["h100e"].fillna(0) > 0)]
