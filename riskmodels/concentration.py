"""Concentration measures on market shares.

Units: shares in percent (0-100) as reported, never renormalised to the attributed total;
HHI in points (0-10,000).

Formulas (cited):
- HHI = sum of squared shares -- 2023 DOJ/FTC Merger Guidelines, Guideline 1 (and 2010 HMG s.5.3).
- Unattributed remainder R = 100 - sum(shares): lower bound = named firms only; upper bound
  adds R as one firm (R^2), the largest HHI any split of R can add.
- CRk = sum of the k largest shares; numbers-equivalent = 10,000 / HHI (Adelman 1969).
- Zones: 2023 Merger Guidelines: HHI > 1,800 "highly concentrated"; DOJ HHI page:
  1,000-1,800 "moderately concentrated"; below 1,000 "unconcentrated".
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

ZONE_HIGH = "highly concentrated"
ZONE_MODERATE = "moderately concentrated"
ZONE_UNCONCENTRATED = "unconcentrated"


def _as_shares(shares_pct, name: str = "shares_pct") -> np.ndarray:
    arr = np.asarray(shares_pct, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; drop unknown shares before computing HHI")
    if (arr < 0).any() or (arr > 100).any():
        raise ValueError(f"{name} must be percentages in [0, 100], got {arr[(arr < 0) | (arr > 100)].tolist()}")
    return arr


def hhi(shares_pct: Iterable[float]) -> float:
    """Herfindahl-Hirschman Index of one market.

    Parameters
    ----------
    shares_pct : array-like of float
        Market shares in percent (0-100), one per firm. Not renormalised: if they sum to less
        than 100 the result covers the named firms only (a lower bound).

    Returns
    -------
    float
        HHI in points, 0-10,000 (2023 Merger Guidelines, Guideline 1: sum of squared shares).
    """
    arr = _as_shares(shares_pct)
    return float(np.sum(arr ** 2))


def zone(hhi_points, high_above: float = 1800.0, moderate_from: float = 1000.0):
    """Concentration zone of the 2023 US Merger Guidelines for HHI value(s) in points.

    ``high_above`` is strict (HHI > 1,800 is highly concentrated); ``moderate_from`` is
    inclusive (1,000 <= HHI <= 1,800 is moderately concentrated). NaN gives None.
    """
    h = np.asarray(hhi_points, dtype=float)
    out = np.where(h > high_above, ZONE_HIGH, np.where(h >= moderate_from, ZONE_MODERATE, ZONE_UNCONCENTRATED))
    out = np.where(np.isnan(h), None, out)
    return out if out.ndim else out.item()


def concentration_table(shares: pd.DataFrame, group: list[str] | None = None,
                        high_above: float = 1800.0, moderate_from: float = 1000.0) -> pd.DataFrame:
    """Concentration measures for every market-period, vectorised over all groups.

    Parameters
    ----------
    shares : DataFrame
        One row per firm per market-period with columns ``group`` (default
        ``market_id, period``), ``entity_id`` and ``share_pct`` (percent, 0-100). Rows with an
        unknown share (NaN) are counted in ``n_unknown_share`` and left out of the measures.
    group : list of str, optional
        Columns identifying one market-period.
    high_above, moderate_from : float
        Zone thresholds in HHI points (see :func:`zone`).

    Returns
    -------
    DataFrame
        One row per group: ``n_firms`` (named firms with a known share), ``n_unknown_share``,
        ``attributed_pct`` (sum of named shares), ``hhi`` (named firms only), ``hhi_lower``
        (= ``hhi``), ``hhi_upper`` (remainder as one firm), ``cr1``, ``cr4``,
        ``numbers_equivalent`` (10,000 / HHI), ``top_entity_id``, ``zone``, ``zone_upper``.
    """
    group = group or ["market_id", "period"]
    missing = [c for c in [*group, "entity_id", "share_pct"] if c not in shares.columns]
    if missing:
        raise ValueError(f"shares is missing columns {missing}")
    df = shares[[*group, "entity_id", "share_pct"]].copy()
    df["share_pct"] = pd.to_numeric(df["share_pct"], errors="raise").astype(float)
    bad = df["share_pct"].notna() & ~df["share_pct"].between(0, 100)
    if bad.any():
        raise ValueError(f"share_pct outside [0, 100] at rows {df.index[bad].tolist()}")

    known = df[df["share_pct"].notna()].sort_values([*group, "share_pct"], ascending=[True] * len(group) + [False])
    known = known.assign(sq=known["share_pct"] ** 2, rank=known.groupby(group, sort=False).cumcount())
    g = known.groupby(group, sort=True)
    out = pd.DataFrame({
        "n_firms": g["share_pct"].size(),
        "attributed_pct": g["share_pct"].sum(),
        "hhi": g["sq"].sum(),
        "cr1": g["share_pct"].max(),
        "cr4": known[known["rank"] < 4].groupby(group)["share_pct"].sum(),
        "top_entity_id": g["entity_id"].first(),
    })
    unknown = df[df["share_pct"].isna()].groupby(group).size().rename("n_unknown_share")
    all_groups = df[group].drop_duplicates().set_index(group).index
    out = out.reindex(all_groups.union(out.index)).join(unknown)
    out["n_unknown_share"] = out["n_unknown_share"].fillna(0).astype(int)
    out["n_firms"] = out["n_firms"].fillna(0).astype(int)
    remainder = (100.0 - out["attributed_pct"]).clip(lower=0)
    out["hhi_lower"] = out["hhi"]
    out["hhi_upper"] = out["hhi"] + remainder ** 2
    out["numbers_equivalent"] = 10_000.0 / out["hhi"].where(out["hhi"] > 0)
    out["zone"] = zone(out["hhi"].to_numpy(), high_above, moderate_from)
    out["zone_upper"] = zone(out["hhi_upper"].to_numpy(), high_above, moderate_from)
    return out.reset_index()
