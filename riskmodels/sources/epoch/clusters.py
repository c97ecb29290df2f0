"""Epoch AI "Data on GPU Clusters": who owns the installed AI compute, on whose chips.

* :func:`read_clusters` selects the needed columns **by name** (``config/epoch.yaml``) and fails
  with :class:`EpochSchemaError` naming the file and the missing columns when a release drops or
  renames one; H100-equivalents and dates are typed (a cell that is not a number or a date is
  reported with its row and column).
* :func:`split_tagged` splits multi-valued cells ("Microsoft,OpenAI") and moves confidence
  hashtags ("Amazon #likely") into a column.
* :func:`resolve` maps names to entity ids through ``data/entity_aliases.csv`` (context
  ``compute``, then ``*``); a name the registry does not know keeps ``epoch:<slug>``.
* :func:`installed_shares` gives, per calendar quarter, each owner's (or chip vendor's) share of
  the installed H100e: a cluster counts from its first operational date until its
  decommissioning date, only with an installed status, not a possible duplicate, not excluded; its
  H100e is split equally among its listed owners; a cluster with no owner (or an anonymised
  supplier) stays in the total as the unattributed remainder, like an unattributed market share.

Units: compute in H100-equivalents (H100e); shares in percent 0-100.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .release import EpochSchemaError, read_release  # noqa: F401 - EpochSchemaError is part of this API

TAG_RE = re.compile(r"#(\w+)")


def read_clusters(raw: bytes, cfg: dict, source: str = "gpu_clusters.csv") -> pd.DataFrame:
    """The clusters of one release (:func:`.release.read_release` of ``gpu_clusters``): the
    configured columns under their short names plus ``row``; ``h100e`` and ``power_mw`` floats
    (NaN when empty); ``first_operational`` and ``decommissioned`` at the end of their precision
    (NaT when empty)."""
    return read_release(raw, cfg, "gpu_clusters", source)


def split_tagged(cells: pd.Series) -> pd.DataFrame:
    """One row per name of every multi-valued cell: ``idx`` (the cell's index), ``name``,
    ``confidence`` (the hashtag, e.g. ``likely``, else None) and ``n`` (names in the cell).
    Vectorised (explode)."""
    parts = cells.fillna("").astype(str).str.split(",").explode()
    tag = parts.str.extract(TAG_RE, expand=False)
    name = parts.str.replace(TAG_RE, "", regex=True).str.strip()
    out = pd.DataFrame({"idx": parts.index, "name": name.to_numpy(), "confidence": tag.to_numpy()})
    out = out[out["name"] != ""]
    out["n"] = out.groupby("idx")["name"].transform("size")
    return out.reset_index(drop=True)


def slug(names: pd.Series) -> pd.Series:
    """``epoch:<lower-case name, dashes>``, at most 64 characters (the registry's id length)."""
    return "epoch:" + names.str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-").str[:58]


def resolve(names: pd.Series, aliases: pd.DataFrame, context: str = "compute") -> pd.Series:
    """Entity ids of ``names`` via the alias table (``alias, context, entity_id``): the
    ``context`` row first, then ``*``; unknown names get ``epoch:<slug>``."""
    a = aliases.assign(alias=aliases["alias"].str.strip())
    ctx = a[a["context"] == context].drop_duplicates("alias").set_index("alias")["entity_id"]
    any_ = a[a["context"] == "*"].drop_duplicates("alias").set_index("alias")["entity_id"]
    return names.map(ctx).fillna(names.map(any_)).fillna(slug(names))


def counted(clusters: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Clusters that count as installed compute (status, not a possible duplicate, not excluded)."""
    ok = (clusters["status"].isin(cfg["installed_statuses"]) & ~clusters["possible_duplicate"].str.lower().eq("true")
          & ~clusters["exclude"].str.lower().isin(["true", "yes", "1"]))
    return clusters[ok]


def quarter_ends(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(first).to_period("Q").end_time.normalize(),
                         pd.Timestamp(last).to_period("Q").end_time.normalize(), freq="QE")


def installed_shares(clusters: pd.DataFrame, by: str, aliases: pd.DataFrame, cfg: dict,
                     as_of: pd.Timestamp) -> pd.DataFrame:
    """Share of installed H100e per quarter-end up to ``as_of`` (clusters of :func:`counted`):
    ``period`` (``2024Q3``), ``entity_id``, ``raw_name``, ``h100e`` (the entity's H100e),
    ``total_h100e`` (every counted cluster operational then, owned or not), ``share_pct``,
    ``clusters`` (how many clusters the entity's figure sums), ``undated`` (counted clusters with
    no first operational date, left out of every quarter). ``by``: ``owner`` or ``vendor``.
    Vectorised: clusters x quarter-ends as one boolean matrix."""
    c = counted(clusters, cfg)
    c = c[c["h100e"].notna() & (c["h100e"] > 0)]
    undated = int(c["first_operational"].isna().sum())
    c = c[c["first_operational"].notna()]
    if c.empty:
        return pd.DataFrame(columns=["period", "entity_id", "raw_name", "h100e", "total_h100e", "share_pct",
                                     "clusters", "undated"])
    ends = quarter_ends(c["first_operational"].min(), as_of)
    ends = ends[ends <= pd.Timestamp(as_of).to_period("Q").end_time.normalize()]
    start = c["first_operational"].to_numpy("datetime64[ns]")[:, None]
    stop = c["decommissioned"].to_numpy("datetime64[ns]")[:, None]
    e = ends.to_numpy("datetime64[ns]")[None, :]
    active = (start <= e) & (np.isnat(stop) | (stop > e))                   # clusters x quarters
    h = c["h100e"].to_numpy(float)
    total = h @ active                                                       # per quarter
    names = split_tagged(c[by].where(~c[by].isin(cfg["unattributed_names"]), ""))
    names = names[~names["name"].isin(cfg["unattributed_names"])]
    pos = pd.Index(c.index).get_indexer(names["idx"])
    weight = h[pos] / names["n"].to_numpy()                                  # split equally among owners
    ids = resolve(names["name"], aliases, cfg.get("alias_context", "compute") if by == "owner" else "accelerator")
    codes, uniq = pd.factorize(ids)
    # entity x quarter sums: one sparse-free matmul over the name rows
    contrib = (weight[:, None] * active[pos])                               # name rows x quarters
    per = np.zeros((len(uniq), len(ends)))
    np.add.at(per, codes, contrib)
    n_clusters = np.zeros((len(uniq), len(ends)), dtype=int)
    np.add.at(n_clusters, codes, active[pos].astype(int))
    raw = names.groupby(codes)["name"].first().reindex(range(len(uniq))).to_numpy()
    ent, q = np.nonzero(per > 0)
    labels = ends.to_period("Q").astype(str).to_numpy()
    return pd.DataFrame({
        "period": labels[q], "entity_id": np.asarray(uniq)[ent], "raw_name": raw[ent], "h100e": per[ent, q],
        "total_h100e": total[q], "share_pct": per[ent, q] / total[q] * 100.0, "clusters": n_clusters[ent, q],
        "undated": undated}).sort_values(["period", "share_pct"], ascending=[True, False]).reset_index(drop=True)
