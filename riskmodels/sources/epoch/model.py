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


def release_rows(dataset: str, sha: str, settings: Settings | None = None) -> pd.DataFrame:
    """The rows of one published release of ``dataset``, typed as :func:`.release.read_release`
    returns them (empty text cells as "")."""
    from ... import store

    spec = epoch_config(settings)["datasets"][dataset]
    df = store.read_sql(f"SELECT * FROM {spec['table']} WHERE release_sha256 = :s ORDER BY row", {"s": sha}, settings)
    for col in spec.get("dates", []):
        df[col] = pd.to_datetime(df[col], errors="coerce")
    for col in spec.get("numbers", []):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    text = [c for c in df.columns if c not in ("row", *spec.get("numbers", []), *spec.get("dates", []))]
    df[text] = df[text].fillna("").astype(str)
    return df


def release_clusters(sha: str, settings: Settings | None = None) -> pd.DataFrame:
    """The rows of one published ``gpu_clusters`` release (:func:`release_rows`)."""
    return release_rows("gpu_clusters", sha, settings)


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


def _market_clusters(clusters: pd.DataFrame, m: dict, cfg: dict, as_of: pd.Timestamp) -> pd.DataFrame:
    """The clusters one market counts: its country filter, plus planned capacity when ``planned``."""
    c = clusters
    if m.get("countries"):
        c = c[c["country"].isin(m["countries"])]
    if m.get("countries_except"):
        c = c[c["country"].ne("") & ~c["country"].isin(m["countries_except"])]
    if m.get("planned"):
        c = with_planned(c, cfg, as_of)
    return c


def _market_installed(clusters: pd.DataFrame, m: dict, aliases: pd.DataFrame, cfg: dict,
                      as_of: pd.Timestamp) -> pd.DataFrame:
    s = installed_shares(_market_clusters(clusters, m, cfg, as_of), m["by"], aliases, cfg, as_of)
    return s[s["period"] == str(as_of.to_period("Q"))] if m.get("planned") else s


def market_shares(clusters: pd.DataFrame, aliases: pd.DataFrame, cfg: dict, release: dict) -> pd.DataFrame:
    """Market-share rows (``data/market_shares.csv`` columns) of every cluster-derived compute
    market from one release's clusters. Vectorised per market (a handful of markets)."""
    as_of = pd.Timestamp(release["as_of"])
    sha = str(release["sha256"])
    citation = cfg["datasets"]["gpu_clusters"]["citation"]
    parts = []
    for mid, m in cfg["markets"].items():
        if m["by"] not in ("owner", "vendor"):  # frontier and chip-owner markets come from other datasets
            continue
        s = _market_installed(clusters, m, aliases, cfg, as_of)
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


UNCERTAINTY_COLUMNS = ["market_id", "period", "hhi", "hhi_confirmed_only", "hhi_excl_unlikely", "band_low",
                       "band_high", "attributed_pct", "attributed_pct_confirmed_only", "release_sha256"]


def uncertainty(clusters: pd.DataFrame, aliases: pd.DataFrame, cfg: dict, release: dict) -> pd.DataFrame:
    """The band of each cluster-derived compute HHI (points), per market and quarter: the HHI on
    every counted cluster (``hhi``), on ``Confirmed`` clusters only and without ``Unlikely`` ones;
    ``band_low`` / ``band_high`` the lowest lower bound and the highest upper bound over those
    variants, where an anonymised owner's (unattributed) compute is either spread over many small
    owners (lower) or one firm (upper). Epoch's H100e are estimates: this is the spread of the
    choices, not a statistical interval."""
    from ...concentration import concentration_table

    as_of = pd.Timestamp(release["as_of"])
    unc = cfg["uncertainty"]
    variants = {"all": clusters,
                "confirmed_only": clusters[clusters["certainty"].isin(unc["confirmed"])],
                "excl_unlikely": clusters[~clusters["certainty"].isin(unc["unlikely"])]}
    parts = []
    for mid, m in cfg["markets"].items():
        if m["by"] not in ("owner", "vendor"):
            continue
        per = {}
        for name, c in variants.items():
            s = _market_installed(c, m, aliases, cfg, as_of)
            if len(s):
                per[name] = concentration_table(s.assign(market_id=mid))[
                    ["market_id", "period", "hhi", "hhi_lower", "hhi_upper", "attributed_pct"]].set_index(
                        ["market_id", "period"])
        if "all" not in per:
            continue
        t = per["all"][["hhi", "attributed_pct"]].copy()
        for name in ("confirmed_only", "excl_unlikely"):
            t[f"hhi_{name}"] = per[name]["hhi"] if name in per else np.nan
        t["attributed_pct_confirmed_only"] = per["confirmed_only"]["attributed_pct"] if "confirmed_only" in per else np.nan
        lows = pd.concat([v["hhi_lower"] for v in per.values()], axis=1)
        highs = pd.concat([v["hhi_upper"] for v in per.values()], axis=1)
        t["band_low"], t["band_high"] = lows.min(axis=1), highs.max(axis=1)
        parts.append(t.reset_index())
    if not parts:
        return pd.DataFrame(columns=UNCERTAINTY_COLUMNS)
    return pd.concat(parts, ignore_index=True).assign(release_sha256=str(release["sha256"]))[UNCERTAINTY_COLUMNS]


def frontier_market_shares(models: pd.DataFrame, aliases: pd.DataFrame, cfg: dict, release: dict) -> pd.DataFrame:
    """Market-share rows of the ``frontier`` markets (:func:`.frontier.training_shares` per
    publication year) from one frontier-models release."""
    from .frontier import training_shares

    as_of = pd.Timestamp(release["as_of"])
    sha = str(release["sha256"])
    citation = cfg["datasets"]["frontier_models"]["citation"]
    parts = []
    for mid, spec in cfg["frontier"]["markets"].items():
        s = training_shares(models, spec["by"], aliases, cfg, spec["context"])
        s = s[s["period"].str[:4].astype(int) <= as_of.year]     # the release's year so far, and earlier
        if s.empty:
            continue
        parts.append(pd.DataFrame({
            "market_id": mid, "period": s["period"], "period_type": "year", "entity_id": s["entity_id"],
            "raw_name": s["raw_name"], "share_pct": s["share_pct"], "market_size_usd_bn": None, "units_m": None,
            "revenue_usd_bn": None, "segment": None, "metric": cfg["markets"][mid]["metric"],
            "estimate_type": "Epoch AI estimate", "source": f"{citation}; release of {as_of.date()} (sha256 {sha[:12]})",
            "source_url": release["url"], "source_date": as_of.strftime("%Y-%m-%d"), "confidence": cfg["confidence"],
            "notes": (s["flop"].map("{:.4g}".format) + " of " + s["total_flop"].map("{:.4g}".format) + " FLOP in "
                      + s["models"].astype(str) + " of the year's " + s["year_models"].astype(str)
                      + " frontier model(s); " + s["unknown_flop"].astype(str) + " without a training-compute figure"),
            "ref_file": f"epoch:frontier_models@{sha[:12]}", "ref_row": None}))
    if not parts:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[SHARE_COLUMNS]


def chip_owner_shares(ownership: pd.DataFrame, aliases: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Market-share rows of ``chip_owners.market`` from the typed ``compute_ownership`` dataset
    (Epoch AI's chip-owner estimates as reported): per ``as_of`` snapshot, the rows of
    ``chip_owners.metric`` with an H100e figure; each named owner's share of the snapshot's summed
    H100e (the groups of ``chip_owners.remainder_names`` count in the sum but are nobody's, like
    an unattributed market share). Period: the calendar quarter of ``as_of``. Shares in percent."""
    from .clusters import resolve

    co = cfg["chip_owners"]
    f = ownership[(ownership["metric"] == co["metric"]) & ownership["h100e_millions"].notna()].copy()
    if f.empty:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    f["ref_row"] = f.index + 1 if "ref_row" not in f else f["ref_row"]
    total = f.groupby("as_of")["h100e_millions"].transform("sum")
    f = f[~f["owner"].isin(co["remainder_names"]) & (total > 0)]
    total = total[f.index]
    if f.empty:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    period = pd.PeriodIndex(pd.to_datetime(f["as_of"].astype(str).str[:7], format="%Y-%m"), freq="Q").astype(str)
    return pd.DataFrame({
        "market_id": co["market"], "period": period, "period_type": "quarter",
        "entity_id": resolve(f["owner"].astype(str), aliases, cfg.get("alias_context", "compute")).to_numpy(),
        "raw_name": f["owner"].to_numpy(), "share_pct": (f["h100e_millions"] / total * 100.0).to_numpy(),
        "market_size_usd_bn": None, "units_m": None, "revenue_usd_bn": None, "segment": None,
        "metric": co["metric"], "estimate_type": "Epoch AI estimate as reported",
        "source": f["source"].to_numpy(), "source_url": f["source_url"].to_numpy(),
        "source_date": f["source_date"].astype(str).to_numpy(), "confidence": f["confidence"].to_numpy(),
        "notes": ("as of " + f["as_of"].astype(str) + ": " + f["h100e_millions"].astype(str) + "M of "
                  + total.round(6).astype(str) + "M H100e summed over the reported rows (groups included); "
                  + f["notes"].fillna("").astype(str)).to_numpy(),
        "ref_file": "compute_ownership.csv", "ref_row": f["ref_row"].to_numpy()})[SHARE_COLUMNS]


def compute_rows(run_date: dt.date, entities: pd.DataFrame, settings: Settings | None = None,
                 ownership: pd.DataFrame | None = None) -> dict:
    """Rows for the daily run from the latest published release of each Epoch dataset known by
    ``run_date`` and the ``compute_ownership`` dataset (``ownership``: typed, point in time):

    * ``markets``: the definitions of the compute markets that have rows;
    * ``market_shares``: their share rows, each with the ``input_sha256`` of what it came from;
    * ``links``: owner -> user compute links (:func:`.links.compute_links`) and ``lockin_links``
      the ones lock-in counts (:func:`.links.lockin_links`); ``own_h100e``: each owner's installed
      H100e in the clusters release's quarter; ``uncertainty``: the band of each cluster-derived
      compute HHI (:func:`uncertainty`);
    * ``releases``: ``{dataset: release row}`` of the releases used (empty when none)."""
    from ... import memo

    settings = settings or get_settings()
    cfg = epoch_config(settings)
    releases = {name: rel for name in cfg["datasets"] if (rel := latest_release(run_date, name, settings)) is not None}
    # a pure function of the releases, the registry, the ownership rows, config and code: kept
    # across processes (riskmodels.memo), so a day with unchanged inputs does not redo it
    digest = memo.key("epoch_compute_rows", {n: {k: str(v) for k, v in r.items()} for n, r in releases.items()},
                      memo.frame_digest(entities), memo.frame_digest(ownership),
                      memo.file_digest(settings.home / "data" / "entity_aliases.csv"),
                      memo.file_digest(settings.home / "config" / "epoch.yaml"),
                      memo.code_digest("sources/epoch", "concentration.py", "dates.py"))
    out = memo.get("epoch_compute_rows", digest, settings)
    if out is None:
        out = _compute_rows(releases, entities, cfg, settings, ownership)
        memo.put("epoch_compute_rows", digest, {k: v for k, v in out.items() if isinstance(v, pd.DataFrame)}, settings)
    return {**out, "releases": releases,
            "sha256": str(releases["gpu_clusters"]["sha256"]) if "gpu_clusters" in releases else None,
            "release": releases.get("gpu_clusters")}


def _compute_rows(releases: dict, entities: pd.DataFrame, cfg: dict, settings: Settings,
                  ownership: pd.DataFrame | None) -> dict:
    """:func:`compute_rows` from the releases it chose."""
    from .links import compute_links, lockin_links

    aliases = pd.read_csv(settings.home / "data" / "entity_aliases.csv", dtype=str, keep_default_na=False)
    rows = {name: release_rows(name, str(rel["sha256"]), settings) for name, rel in releases.items()}
    parts = []
    if "gpu_clusters" in releases:
        parts.append(market_shares(rows["gpu_clusters"], aliases, cfg, releases["gpu_clusters"])
                     .assign(input_sha256=str(releases["gpu_clusters"]["sha256"])))
    if "frontier_models" in releases:
        parts.append(frontier_market_shares(rows["frontier_models"], aliases, cfg, releases["frontier_models"])
                     .assign(input_sha256=str(releases["frontier_models"]["sha256"])))
    if ownership is not None and len(ownership):
        chip = chip_owner_shares(ownership, aliases, cfg)
        parts.append(chip.assign(input_sha256=ownership["input_sha256"].iloc[0] if "input_sha256" in ownership else None))
    parts = [p for p in parts if len(p)]
    shares = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*SHARE_COLUMNS, "input_sha256"])
    # unknown owners keep an id of their own (epoch:<slug>): they are firms, not the remainder
    known = set(entities["entity_id"]) if "entity_id" in entities else set()
    shares["notes"] = np.where(shares["entity_id"].isin(known), shares["notes"],
                               shares["notes"].astype(str) + "; not in the registry: id from Epoch's name")
    parents = entities.set_index("entity_id")["parent_id"].dropna().to_dict() if "parent_id" in entities else {}
    links = compute_links(rows.get("data_centers"), rows.get("gpu_clusters"), aliases, cfg,
                          {n: str(r["sha256"]) for n, r in releases.items()}, parents)
    own = pd.DataFrame(columns=["entity_id", "h100e"])
    band = pd.DataFrame(columns=UNCERTAINTY_COLUMNS)
    if "gpu_clusters" in releases:
        band = uncertainty(rows["gpu_clusters"], aliases, cfg, releases["gpu_clusters"])  # each owner's installed H100e in the release's quarter (lock-in's rented share)
        inst = installed_shares(rows["gpu_clusters"], "owner", aliases, cfg, pd.Timestamp(releases["gpu_clusters"]["as_of"]))
        own = inst[inst["period"] == inst["period"].max()][["entity_id", "h100e"]] if len(inst) else own
    mk = compute_markets(settings)
    mk = mk[mk["market_id"].isin(set(shares["market_id"]))]
    return {"markets": mk.reset_index(drop=True), "market_shares": shares.reset_index(drop=True), "links": links,
            "lockin_links": lockin_links(links, cfg), "own_h100e": own.reset_index(drop=True), "uncertainty": band,
            "releases": releases,
            "sha256": str(releases["gpu_clusters"]["sha256"]) if "gpu_clusters" in releases else None,
            "release": releases.get("gpu_clusters")}
