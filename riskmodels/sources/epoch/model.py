"""Epoch AI releases into the daily model: compute markets (layer ``compute``), point in time.

:func:`compute_rows` reads, for a run date, the latest **published** ``gpu_clusters`` release
whose ``as_of`` is on or before it (``epoch_releases`` / ``epoch_clusters``; a quarantined release
is never read) and returns rows in the shape of the pipeline's ``markets`` and ``market_shares``
datasets for every market of ``config/epoch.yaml`` ``markets``:

* installed H100e by owner (worldwide, and by country group) or by chip vendor, one row per
  entity and calendar quarter from the first quarter a counted cluster was operational to the
  release's quarter (:func:`.clusters.installed_shares`: a cluster's H100e split equally among its
  owners; clusters without an owner stay in the total, so shares sum to the attributed part and
  the concentration interval widens exactly as for an unattributed market share);
* ``planned: true`` markets add, in the release's quarter only, the ``Planned`` clusters with
  their H100e weighted by ``planned_certainty_weights`` (a riskmodels assumption stated in config,
  not Epoch's).

Each row cites the release (URL, sha256 prefix, as-of date) and Epoch's CC BY citation. Units:
shares in percent 0-100, compute in H100e (in ``notes`` and ``units_m`` stays empty).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ...config import Settings, get_settings
from . import epoch_config
from .clusters import installed_shares

SHARE_COLUMNS = ["market_id", "period", "period_type", "entity_id", "raw_name", "share_pct", "market_size_usd_bn",
                 "units_m", "revenue_usd_bn", "segment", "metric", "estimate_type", "source", "source_url",
                 "source_date", "confidence", "notes", "ref_file", "ref_row"]


def compute_markets(settings: Settings | None = None) -> pd.DataFrame:
    """The compute market definitions (columns of ``data/markets.csv``)."""
    cfg = epoch_config(settings)
    rows = [{"market_id": mid, "layer": "compute", "definition": " ".join(str(m["definition"]).split()),
             "geography": m["geography"], "analyst": "Epoch AI", "metric": m["metric"]}
            for mid, m in cfg["markets"].items()]
    return pd.DataFrame(rows, columns=["market_id", "layer", "definition", "geography", "analyst", "metric"])


def latest_release(run_date: dt.date, dataset: str = "gpu_clusters", settings: Settings | None = None) -> dict | None:
    """The newest published release of ``dataset`` known by ``run_date`` (None if there is none)."""
    from ... import store

    rel = store.read_sql("SELECT * FROM epoch_releases WHERE dataset = :n AND status = 'published' AND as_of <= :d "
                         "ORDER BY as_of DESC, processed_at DESC", {"n": dataset, "d": run_date}, settings)
    return None if rel.empty else rel.iloc[0].to_dict()


def release_clusters(sha: str, settings: Settings | None = None) -> pd.DataFrame:
    """The rows of one published ``gpu_clusters`` release, typed as :func:`.clusters.read_clusters`
    returns them (empty cells as "")."""
    from ... import store

    df = store.read_sql("SELECT * FROM epoch_clusters WHERE release_sha256 = :s ORDER BY row", {"s": sha}, settings)
    for col in ("first_operational", "decommissioned"):
        df[col] = pd.to_datetime(df[col], errors="coerce")
    for col in ("h100e", "power_mw"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    text = [c for c in df.columns if c not in ("row", "h100e", "power_mw", "first_operational", "decommissioned")]
    df[text] = df[text].fillna("").astype(str)
    return df


def with_planned(clusters: pd.DataFrame, cfg: dict, as_of: pd.Timestamp) -> pd.DataFrame:
    """``clusters`` plus every ``Planned`` cluster (not a possible duplicate, not excluded) as if
    installed in ``as_of``'s quarter, its H100e times the weight of its certainty."""
    weights = cfg["planned_certainty_weights"]
    plan = clusters[clusters["status"].isin(cfg["planned_statuses"])
                    & ~clusters["possible_duplicate"].str.lower().eq("true")
                    & ~clusters["exclude"].str.lower().isin(["true", "yes", "1"])].copy()
    plan["h100e"] = plan["h100e"] * plan["certainty"].map(weights).fillna(0.0).astype(float)
    plan["status"] = cfg["installed_statuses"][0]
    plan["first_operational"] = pd.Timestamp(as_of).to_period("Q").end_time.normalize()
    plan["decommissioned"] = pd.NaT
    return pd.concat([clusters, plan], ignore_index=True)


def market_shares(clusters: pd.DataFrame, aliases: pd.DataFrame, cfg: dict, release: dict) -> pd.DataFrame:
    """Market-share rows (``data/market_shares.csv`` columns) of every compute market from one
    release's clusters. Vectorised per market (a handful of markets)."""
    as_of = pd.Timestamp(release["as_of"])
    sha = str(release["sha256"])
    citation = cfg["datasets"]["gpu_clusters"]["citation"]
    parts = []
    for mid, m in cfg["markets"].items():
        c = clusters
        if m.get("countries"):
            c = c[c["country"].isin(m["countries"])]
        if m.get("countries_except"):
            c = c[c["country"].ne("") & ~c["country"].isin(m["countries_except"])]
        if m.get("planned"):
            c = with_planned(c, cfg, as_of)
        s = installed_shares(c, m["by"], aliases, cfg, as_of)
        if m.get("planned"):
            s = s[s["period"] == str(as_of.to_period("Q"))]
        if s.empty:
            continue
        parts.append(pd.DataFrame({
            "market_id": mid, "period": s["period"], "period_type": "quarter", "entity_id": s["entity_id"],
            "raw_name": s["raw_name"], "share_pct": s["share_pct"], "market_size_usd_bn": None, "units_m": None,
            "revenue_usd_bn": None, "segment": None, "metric": m["metric"], "estimate_type": "Epoch AI estimate",
            "source": f"{citation}; release of {as_of.date()} (sha256 {sha[:12]})",
            "source_url": release["url"], "source_date": as_of.strftime("%Y-%m-%d"), "confidence": cfg["confidence"],
            "notes": (s["h100e"].round(1).astype(str) + " of " + s["total_h100e"].round(1).astype(str) + " H100e in "
                      + s["clusters"].astype(str) + " cluster(s); " + s["undated"].astype(str)
                      + " counted cluster(s) without a first operational date left out"),
            "ref_file": f"epoch:gpu_clusters@{sha[:12]}", "ref_row": None}))
    if not parts:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[SHARE_COLUMNS]


def compute_rows(run_date: dt.date, entities: pd.DataFrame, settings: Settings | None = None) -> dict:
    """Rows for the daily run: ``markets``, ``market_shares`` and the release's ``sha256`` (None
    and empty frames when no published release is known by ``run_date``)."""
    settings = settings or get_settings()
    cfg = epoch_config(settings)
    release = latest_release(run_date, "gpu_clusters", settings)
    if release is None:
        return {"markets": compute_markets(settings).iloc[0:0], "market_shares": pd.DataFrame(columns=SHARE_COLUMNS),
                "sha256": None, "release": None}
    aliases = pd.read_csv(settings.home / "data" / "entity_aliases.csv", dtype=str, keep_default_na=False)
    shares = market_shares(release_clusters(release["sha256"], settings), aliases, cfg, release)
    # unknown owners keep an id of their own (epoch:<slug>): they are firms, not the remainder
    known = set(entities["entity_id"]) if "entity_id" in entities else set()
    shares["notes"] = np.where(shares["entity_id"].isin(known), shares["notes"],
                               shares["notes"] + "; not in the registry: id from Epoch's name")
    mk = compute_markets(settings)
    mk = mk[mk["market_id"].isin(set(shares["market_id"]))]
    return {"markets": mk.reset_index(drop=True), "market_shares": shares, "sha256": str(release["sha256"]),
            "release": release}
