"""Who trained the frontier: concentration of frontier training compute by hardware maker and by
training cloud, per publication year (Epoch AI "Data on AI Models", frontier models).

For each year from ``frontier.from_year``: each maker's (cloud's) share of the year's summed
training compute in FLOP, a multi-valued cell ("NVIDIA,Huawei") split equally; models with no
named maker (cloud) stay in the year's total as the unattributed remainder, like an unattributed
market share; models without a training-compute figure are left out (counted in ``unknown_flop``).
Units: shares in percent 0-100, compute in FLOP. Vectorised (explode, groupby).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .clusters import resolve, split_tagged


def training_shares(models: pd.DataFrame, by: str, aliases: pd.DataFrame, cfg: dict, context: str) -> pd.DataFrame:
    """``period`` (``2024FY``), ``entity_id``, ``raw_name``, ``flop``, ``total_flop``, ``share_pct``,
    ``models`` (how many the entity's figure sums), ``year_models`` (frontier models that year)
    and ``unknown_flop`` (models that year without a training-compute figure)."""
    m = models[models["publication_date"].notna()].copy()
    m["year"] = pd.to_datetime(m["publication_date"]).dt.year
    m = m[m["year"] >= int(cfg["frontier"]["from_year"])]
    cols = ["period", "entity_id", "raw_name", "flop", "total_flop", "share_pct", "models", "year_models", "unknown_flop"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    year_models = m.groupby("year").size()
    unknown = m["training_compute_flop"].isna().groupby(m["year"]).sum()
    m = m[m["training_compute_flop"].notna() & (m["training_compute_flop"] > 0)]
    total = m.groupby("year")["training_compute_flop"].sum()
    names = split_tagged(m[by])
    if names.empty:
        return pd.DataFrame(columns=cols)
    names = names.drop_duplicates(["idx", "name"])                           # "NVIDIA,NVIDIA" is one maker
    names["n"] = names.groupby("idx")["name"].transform("size")
    pos = pd.Index(m.index).get_indexer(names["idx"])
    names = names.assign(entity_id=resolve(names["name"], aliases, context).to_numpy(),
                         year=m["year"].to_numpy()[pos], flop=m["training_compute_flop"].to_numpy(float)[pos]
                         / names["n"].to_numpy())
    g = names.groupby(["year", "entity_id"]).agg(raw_name=("name", "first"), flop=("flop", "sum"),
                                                 models=("idx", "nunique")).reset_index()
    g["total_flop"] = g["year"].map(total).to_numpy(float)
    g["share_pct"] = g["flop"] / g["total_flop"] * 100.0
    g["year_models"] = g["year"].map(year_models).to_numpy()
    g["unknown_flop"] = g["year"].map(unknown).astype(int).to_numpy()
    g["period"] = g["year"].astype(str) + "FY"
    return g.sort_values(["period", "share_pct"], ascending=[True, False]).reset_index(drop=True)[cols].assign(
        share_pct=lambda d: np.clip(d["share_pct"], 0.0, 100.0))
