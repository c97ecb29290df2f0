"""One consensus across analyst series: concepts (``config/concepts.yaml``).

A concept groups the series that measure the same thing (cloud infrastructure worldwide: Synergy,
Canalys/Omdia, Gartner; data-centre accelerators: TechInsights, Wells Fargo, Mizuho, ...); a
market in no concept is a concept of its own, so every series counts once. Per concept and period
bucket (``year``: a series' latest period within the calendar year; ``latest``: each series' latest
period, whatever its year: what the alerts read), over the **fresh** series
(:mod:`riskmodels.freshness`):

* :func:`concept_concentration`: number of series and of fresh series, median HHI and the min-max
  band (points), whether they agree on the 2023 Merger Guidelines zone (and which), the same
  figures over every series (``*_all``), and the series with their period and HHI;
* :func:`concept_firm_shares`: per firm, in how many fresh series it has a share, the median and
  the min-max range of its shares (percent).

Each series keeps its own denominator: nothing is averaged into one "market"; the median and the
band say where the analysts stand and how far apart. Vectorised (groupby).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

MEMBER_COLUMNS = ["market_id", "concept_id", "concept_name", "bucket_kind", "role", "reason"]


def membership(market_ids, cfg: dict, names: dict | None = None, partial=frozenset()) -> pd.DataFrame:
    """One row per (market, concept): the configured members (``role`` ``series`` or
    ``reference``) and every other market as a concept of its own (its id, ``bucket_kind`` year),
    except the ``partial`` series (shares of the reporting firms' sum: no market)."""
    rows = []
    for cid, c in (cfg.get("concepts") or {}).items():
        for role in ("series", "reference"):
            for mid, why in (c.get(role) or {}).items():
                rows.append((mid, cid, c["name"], c.get("bucket", "year"), role, why))
    listed = {r[0] for r in rows}
    rows += [(m, m, (names or {}).get(m, m), "year", "series", "a series of its own (in no concept)")
             for m in sorted(set(market_ids)) if m not in listed and m not in partial]
    return pd.DataFrame(rows, columns=MEMBER_COLUMNS)


def bucket(periods: pd.Series, kind: pd.Series) -> pd.Series:
    """Bucket label per period: ``year`` -> ``2025FY`` (quarters, halves and months of 2025 too);
    ``quarter`` -> the quarter label (other periods keep their own label)."""
    p = periods.astype(str)
    year = p.str.slice(0, 4) + "FY"
    return pd.Series(np.where(kind.eq("quarter"), p, year), index=periods.index)


LATEST = "latest"


def _members(conc: pd.DataFrame, cfg: dict, names: dict | None, partial=frozenset()) -> pd.DataFrame:
    """Concept members per bucket: a series' latest period within each bucket, and (bucket
    ``latest``) its latest period overall."""
    m = conc.merge(membership(conc["market_id"], cfg, names, partial), on="market_id")
    m["bucket"] = bucket(m["period"], m["bucket_kind"])
    m = m.sort_values("period_end")
    per_bucket = m.groupby(["concept_id", "market_id", "bucket"], sort=False).tail(1)
    latest = m.groupby(["concept_id", "market_id"], sort=False).tail(1).assign(bucket=LATEST)
    out = pd.concat([per_bucket, latest], ignore_index=True)
    out["fresh"] = out["fresh"].fillna(True).astype(bool) if "fresh" in out else True
    return out


def concept_concentration(conc: pd.DataFrame, cfg: dict, names: dict | None = None,
                          partial=frozenset()) -> pd.DataFrame:
    """Per (concept, bucket): ``concept_name``, ``bucket_end``, ``n_series``, ``n_fresh``,
    ``median_hhi``, ``hhi_min``, ``hhi_max`` (fresh series; null without one), ``zones_agree``,
    ``zone`` (when they agree), ``median_hhi_all``, ``hhi_min_all``, ``hhi_max_all``, ``series``
    (JSON list of {market_id, period, hhi, zone, fresh}) and ``reference`` (the same for the
    reference series). HHI in points."""
    cols = ["concept_id", "bucket", "concept_name", "bucket_end", "n_series", "n_fresh", "median_hhi", "hhi_min",
            "hhi_max", "zones_agree", "zone", "median_hhi_all", "hhi_min_all", "hhi_max_all", "series", "reference"]
    if conc.empty:
        return pd.DataFrame(columns=cols)
    m = _members(conc, cfg, names, partial)
    key = ["concept_id", "bucket"]
    s = m[m["role"] == "series"]
    g = s.groupby(key)
    out = pd.DataFrame({"concept_name": g["concept_name"].first(), "n_series": g.size(),
                        "n_fresh": g["fresh"].sum().astype(int), "median_hhi_all": g["hhi"].median(),
                        "hhi_min_all": g["hhi"].min(), "hhi_max_all": g["hhi"].max()})
    f = s[s["fresh"]].groupby(key)
    out = out.join(pd.DataFrame({"median_hhi": f["hhi"].median(), "hhi_min": f["hhi"].min(),
                                 "hhi_max": f["hhi"].max(), "_zones": f["zone"].nunique(),
                                 "_zone": f["zone"].first()}))
    out["zones_agree"] = np.where(out["_zones"].notna(), out["_zones"].eq(1), None)
    out["zone"] = out["_zone"].where(out["_zones"].eq(1))
    from .dates import period_end

    labels = pd.Series(out.index.get_level_values("bucket"), index=out.index)
    ends = period_end(labels)
    newest = pd.to_datetime(s["period_end"]).groupby([s["concept_id"], s["bucket"]]).max()
    out["bucket_end"] = ends.fillna(newest.reindex(out.index)).dt.date    # "latest": its newest period end

    def listing(frame: pd.DataFrame) -> pd.Series:
        if frame.empty:
            return pd.Series(dtype=object, index=pd.MultiIndex.from_arrays([[], []], names=key))
        recs = frame.sort_values("hhi", ascending=False).assign(
            rec=lambda d: [json.dumps({"market_id": a, "period": b, "hhi": None if pd.isna(c) else round(float(c), 6),
                                       "zone": z, "fresh": bool(fr)})
                           for a, b, c, z, fr in zip(d["market_id"], d["period"], d["hhi"], d["zone"], d["fresh"])])
        return recs.groupby(key)["rec"].agg(lambda xs: "[" + ", ".join(xs) + "]")

    out = out.join(listing(s).rename("series")).join(listing(m[m["role"] == "reference"]).rename("reference"))
    return out.reset_index()[cols]


def concept_firm_shares(conc: pd.DataFrame, shares: pd.DataFrame, cfg: dict,
                        names: dict | None = None, partial=frozenset()) -> pd.DataFrame:
    """Per (concept, bucket, firm) over the fresh series: ``n_series`` (fresh series with a share of
    the firm), ``n_fresh`` (fresh series of the concept in the bucket), ``share_median``,
    ``share_min``, ``share_max`` (percent) and ``series`` (JSON {market_id: share}); the same over
    every series as ``n_series_all``, ``share_min_all``, ``share_max_all``."""
    cols = ["concept_id", "bucket", "entity_id", "n_series", "n_fresh", "share_median", "share_min", "share_max",
            "n_series_all", "share_min_all", "share_max_all", "series"]
    if conc.empty or shares.empty:
        return pd.DataFrame(columns=cols)
    m = _members(conc, cfg, names, partial)
    m = m[m["role"] == "series"]
    n_fresh = m.groupby(["concept_id", "bucket"])["fresh"].sum().astype(int).rename("n_fresh")
    j = shares[["market_id", "period", "entity_id", "share_pct"]].dropna(subset=["share_pct"]).merge(
        m[["concept_id", "market_id", "period", "bucket", "fresh"]], on=["market_id", "period"])
    if j.empty:
        return pd.DataFrame(columns=cols)
    key = ["concept_id", "bucket", "entity_id"]
    ga = j.groupby(key)["share_pct"]
    out = pd.DataFrame({"n_series_all": ga.size(), "share_min_all": ga.min(), "share_max_all": ga.max()})
    jf = j[j["fresh"]]
    gf = jf.groupby(key)["share_pct"]
    out = out.join(pd.DataFrame({"n_series": gf.size(), "share_median": gf.median(), "share_min": gf.min(),
                                 "share_max": gf.max()}))
    out["n_series"] = out["n_series"].fillna(0).astype(int)
    out = out.join(n_fresh, on=["concept_id", "bucket"])
    listing = jf.sort_values("share_pct", ascending=False).assign(
        rec=lambda d: '"' + d["market_id"] + '": ' + d["share_pct"].map(lambda v: repr(float(v))))
    out = out.join(listing.groupby(key)["rec"].agg(lambda xs: "{" + ", ".join(xs) + "}").rename("series"))
    return out.reset_index()[cols]
