"""Terminal summaries of the published tables (read-only; used by the CLI and ``make run``)."""
from __future__ import annotations

import pandas as pd

from . import store
from .config import Settings, get_settings


def latest_concentration(layer: str | None = None, top: int = 10, per_layer: bool = False,
                         settings: Settings | None = None) -> pd.DataFrame:
    """The newest period of every market in the latest run, most concentrated first
    (``top`` rows overall, or per layer with ``per_layer``), fresh series before stale ones;
    ``market`` is its display name,
    ``top_firm`` the largest firm's name, ``age_days`` / ``fresh`` the figure's age."""
    from .pipeline import market_names

    query = ("SELECT v.market_id, v.layer, v.period, v.hhi, v.hhi_upper, v.attributed_pct, v.cr4, v.zone, "
             "COALESCE(e.name, v.top_entity_id) AS top_firm, v.min_confidence, v.data_age_days AS age_days, v.fresh "
             "FROM v_latest_concentration v LEFT JOIN entities e ON e.entity_id = v.top_entity_id")
    params = {}
    if layer:
        query += " WHERE v.layer = :layer"
        params["layer"] = layer
    df = store.read_sql(query + " ORDER BY v.layer, v.hhi DESC", params, settings)
    # the market as a person reads it, beside its id
    names = market_names(store.read_sql("SELECT * FROM markets", settings=settings))
    df.insert(1, "market", df["market_id"].map(names).fillna(df["market_id"]))
    # fresh series first (a stale figure is shown, flagged, after the current ones)
    df = df.assign(_f=df["fresh"].fillna(True).astype(bool)).sort_values(
        ["layer", "_f", "hhi"], ascending=[True, False, False], kind="stable").drop(columns="_f")
    if per_layer:
        return df.groupby("layer", sort=True).head(top).reset_index(drop=True)
    f = df["fresh"].fillna(True).astype(bool)
    return df.assign(_f=f).sort_values(["_f", "hhi"], ascending=[False, False], kind="stable").drop(
        columns="_f").head(top).reset_index(drop=True)


def latest_concepts(top: int = 10, settings: Settings | None = None) -> pd.DataFrame:
    """``v_latest_concepts`` as a person reads it: the concept's name, fresh of all series, median
    HHI (points) and its band over the fresh series, the zone they agree on, and the largest firm
    with its share range (percent) across the series it appears in. Most fresh series first."""
    df = store.read_sql("SELECT v.*, e.name AS top_name FROM v_latest_concepts v LEFT JOIN entities e "
                        "ON e.entity_id = v.top_entity_id ORDER BY v.n_fresh DESC, v.median_hhi DESC", settings=settings)
    if df.empty:
        return df
    band = [("" if pd.isna(lo) else f"{lo:,.0f}–{hi:,.0f}") for lo, hi in zip(df["hhi_min"], df["hhi_max"])]
    agree = [("" if a is None or pd.isna(a) else (z if bool(a) else "series disagree"))
             for a, z in zip(df["zones_agree"], df["zone"])]
    firm = [("" if pd.isna(m) else f"{n if isinstance(n, str) else e} {lo:.3g}–{hi:.3g}% ({int(k)} series)")
            for n, e, m, lo, hi, k in zip(df["top_name"], df["top_entity_id"], df["top_share_median"],
                                           df["top_share_min"], df["top_share_max"], df["top_n_series"].fillna(0))]
    out = pd.DataFrame({"concept": df["concept_name"], "fresh_series": df["n_fresh"].astype(int).astype(str) + " of "
                        + df["n_series"].astype(int).astype(str), "median_hhi": df["median_hhi"], "band": band,
                        "zone": agree, "largest firm (range)": firm})
    return out.rename(columns={"median_hhi": "hhi"}).head(top)


def latest_lockin(layer: str | None = None, top: int = 10, settings: Settings | None = None) -> pd.DataFrame:
    """Lock-in scores of the latest run, highest first (``layer`` defaults to ``all``), with the
    buyer's and top supplier's names."""
    df = store.read_sql("SELECT v.buyer_id, b.name AS buyer, v.layer, v.score, v.basis, v.top_supplier_id, "
                        "t.name AS top_supplier, v.top_supplier_share_pct, v.committed_usd_bn, v.ceiling_usd_bn "
                        "FROM v_latest_lockin v LEFT JOIN entities b ON b.entity_id = v.buyer_id LEFT JOIN entities t "
                        "ON t.entity_id = v.top_supplier_id WHERE v.layer = :l AND v.score IS NOT NULL "
                        "ORDER BY v.score DESC", {"l": layer or "all"}, settings)
    df["buyer"] = df["buyer"].fillna(df["buyer_id"])
    df["top_supplier"] = df["top_supplier"].fillna(df["top_supplier_id"])
    return df.drop(columns=["top_supplier_id"]).head(top)


def latest_risk(top: int = 10, subject_type: str = "relationship", settings: Settings | None = None) -> pd.DataFrame:
    """Antitrust risk of the latest run, riskiest first, with the rank band and the firms' names."""
    df = store.read_sql("SELECT subject_id, score, rank, rank_p05, rank_p95, score_pca, score_change, movement_flag "
                        "FROM v_latest_antitrust WHERE subject_type = :t ORDER BY score DESC", {"t": subject_type}, settings)
    names = store.read_sql("SELECT entity_id, name FROM entities", settings=settings).set_index("entity_id")["name"]
    # "Alphabet Inc. → Anthropic PBC" beside "alphabet->anthropic"
    df.insert(1, "relationship", df["subject_id"].map(
        lambda x: " → ".join(str(names.get(p, p)) for p in str(x).split("->"))))
    return df.head(top)


def sec_tables(run_date=None, settings: Settings | None = None) -> dict[str, pd.DataFrame]:
    """What SEC filings brought into the store and into a run's scores (latest run by default):
    ``filings`` (per form and status), ``quarantined`` (accession, reason), ``stakes``
    (13D/13G: the filing group's percent of class; shares and percent as filed), ``holders``
    (13F holders of registry issuers in the run: percent of shares outstanding), ``segments``
    (segment-revenue market shares of the run, percent of the reporting firms' sum) and
    ``mhhi_split`` (latest period per market, rights regime: ΔMHHI in points, from common
    ownership and from strategic stakes alone)."""
    settings = settings or get_settings()
    if run_date is None:
        d = store.read_sql("SELECT MAX(run_date) AS d FROM concentration", settings=settings)["d"].iloc[0]
        run_date = None if d is None or pd.isna(d) else str(d)
    q = lambda sql: store.read_sql(sql, {"d": str(run_date) if run_date else None}, settings)  # noqa: E731
    out = {
        "filings": q("SELECT form, status, COUNT(*) AS filings, MIN(filed) AS first_filed, MAX(filed) AS last_filed "
                     "FROM sec_filings GROUP BY form, status ORDER BY form, status"),
        "quarantined": q("SELECT accession, form, reason FROM sec_filings WHERE status = 'quarantined' "
                         "ORDER BY processed_at DESC"),
        "stakes": q("SELECT accession, form, issuer_name, issuer_cusip, reporting_person, percent_of_class, "
                    "group_percent_of_class, is_exit, event_date, filed FROM sec_stakes ORDER BY filed, accession, "
                    "person_no"),
        "holders": q("SELECT l.owner_id AS holder_id, h.holder_name, l.firm_id, l.beta * 100 AS pct_shares_outstanding, "
                     "l.status, l.as_of, l.ref_file AS accession FROM ownership_links l LEFT JOIN (SELECT DISTINCT "
                     "accession, holder_name FROM sec_holdings) h ON h.accession = l.ref_file WHERE l.run_date = :d "
                     "AND l.kind = 'holder' AND l.ref_file LIKE '__________-__-______' ORDER BY l.firm_id, l.beta DESC"),
        "segments": q("SELECT market_id, period, entity_id, share_pct, accession, form, source_date AS filed "
                      "FROM market_share_facts WHERE run_date = :d AND confidence = 'filed' "
                      "ORDER BY market_id, period, share_pct DESC"),
        "mhhi_split": q("SELECT o.market_id, o.period, o.hhi, o.mhhi, o.delta_mhhi, o.delta_mhhi_common, "
                        "o.delta_mhhi_strategic FROM ownership_concentration o JOIN v_latest_concentration v ON "
                        "v.market_id = o.market_id AND v.period = o.period AND v.run_date = o.run_date "
                        "WHERE o.run_date = :d AND o.regime = 'rights' ORDER BY o.delta_mhhi DESC"),
    }
    return out


def compute_tables(run_date=None, settings: Settings | None = None) -> dict:
    """What the Epoch AI compute markets of a run hold (latest run by default): ``release`` (the
    release the run scored: url, as-of date, sha256, rows; None when none), ``quarantined``
    (releases quarantined, newest first, with the reason), ``markets`` also carry the uncertainty
    band (``band_low``/``band_high``, HHI on Confirmed clusters only, without Unlikely), ``credits`` (every Epoch release the run
    used: dataset, as-of date, rows, sha256, URL and the CC BY citation), ``markets`` (latest period of each
    ``compute.*`` market: HHI and interval in points, CR1/CR4 and attributed share in percent,
    top entity), ``missing`` (configured compute markets without a row: why), ``vendor_vs_analysts``
    (each vendor's share of installed H100e beside its share in the latest period of each
    accelerator-layer analyst series, percent), ``history`` (the owner series' HHI per quarter)
    ``dependencies`` (the run's ``compute_links``: owner -> user links of Epoch's data centers and
    counted clusters among registry firms; H100e, MW, 2025 USD bn, confidence tag),
    ``frontier`` (the frontier-training markets' rows of the run: share of the year's training
    FLOP by hardware maker and by training cloud) and
    ``chip_owner_gap`` (each owner's share in Epoch's chip-owner estimates as reported beside its
    cluster-derived share of the release's quarter, and the gap in percentage points)."""
    import json

    from .sources.epoch import epoch_config

    settings = settings or get_settings()
    if run_date is None:
        d = store.read_sql("SELECT MAX(run_date) AS d FROM concentration", settings=settings)["d"].iloc[0]
        run_date = None if d is None or pd.isna(d) else str(d)
    q = lambda sql, **kw: store.read_sql(sql, {"d": str(run_date) if run_date else None, **kw}, settings)  # noqa: E731
    cfg = epoch_config(settings)
    run = q("SELECT input_hashes FROM pipeline_runs WHERE run_date = :d AND status = 'published' "
            "ORDER BY updated_at DESC")
    hashes = json.loads(run["input_hashes"].iloc[0]) if len(run) else {}
    sha = hashes.get("epoch_gpu_clusters")
    rel = q("SELECT * FROM epoch_releases WHERE sha256 = :s", s=sha) if sha else pd.DataFrame()
    used = [(k[len("epoch_"):], v) for k, v in hashes.items() if k.startswith("epoch_") and k != "epoch_" and v]
    credits = []
    for dataset, h in used:
        r = q("SELECT dataset, sha256, as_of, rows, url FROM epoch_releases WHERE sha256 = :s AND dataset = :n",
              s=h, n=dataset)
        if len(r) and dataset in cfg["datasets"]:
            credits.append({**r.iloc[0].to_dict(), "citation": cfg["datasets"][dataset]["citation"]})
    allc = q("SELECT c.*, e.name AS top_name FROM concentration c LEFT JOIN entities e ON e.entity_id = c.top_entity_id "
             "WHERE c.run_date = :d AND c.layer IN ('compute', 'accelerator')")
    allc = allc[allc["period_end"] == allc.groupby("market_id")["period_end"].transform("max")] if len(allc) else allc
    conc = allc[allc["layer"] == "compute"].sort_values("market_id").reset_index(drop=True)
    bands = q("SELECT market_id, period, hhi_confirmed_only, hhi_excl_unlikely, band_low, band_high "
              "FROM compute_hhi_bands WHERE run_date = :d")
    conc = conc.merge(bands, on=["market_id", "period"], how="left")
    missing = [{"market_id": m, "why": "no counted cluster with a named " + (spec["by"] if spec["by"] == "owner" else
                                                                           "chip vendor") + " and a date"}
               for m, spec in cfg["markets"].items() if sha and m not in set(conc["market_id"])]
    facts = q("SELECT market_id, period, entity_id, share_pct FROM market_share_facts WHERE run_date = :d")
    facts = facts.merge(allc[["market_id", "period", "layer"]], on=["market_id", "period"])
    vend = facts[facts["market_id"] == "compute.epoch.h100e-vendor.ww"][["entity_id", "share_pct", "period"]]
    analysts = facts[facts["layer"] == "accelerator"]
    vs = vend.rename(columns={"share_pct": "installed_h100e_pct", "period": "epoch_period"}).merge(
        analysts[["entity_id", "market_id", "period", "share_pct"]], on="entity_id", how="left")
    history = q("SELECT market_id, period, period_end, hhi, hhi_upper, attributed_pct, top_entity_id FROM concentration "
                "WHERE run_date = :d AND market_id = 'compute.epoch.h100e-owner.ww' ORDER BY period_end")
    gap = pd.DataFrame()
    deps = q("SELECT owner_id, user_id, origin, site, h100e, power_mw, capital_cost_usd_bn, confidence, source_ref "
             "FROM compute_links WHERE run_date = :d ORDER BY h100e DESC, owner_id, user_id")
    chip = facts[facts["market_id"] == cfg["chip_owners"]["market"]][["entity_id", "period", "share_pct"]]
    if sha:
        from .sources.epoch.clusters import installed_shares
        from .sources.epoch.model import release_clusters

        aliases = pd.read_csv(settings.home / "data" / "entity_aliases.csv", dtype=str, keep_default_na=False)
        clusters = release_clusters(sha, settings)
        if len(chip):
            # the chip-owner estimates against the cluster-derived owner shares of the release's quarter
            inst = installed_shares(clusters, "owner", aliases, cfg, pd.Timestamp(rel["as_of"].iloc[0]))
            inst = inst[inst["period"] == inst["period"].max()]
            gap = chip.rename(columns={"share_pct": "chip_owner_pct", "period": "chip_owner_period"}).merge(
                inst[["entity_id", "period", "share_pct", "h100e", "total_h100e"]].rename(
                    columns={"share_pct": "cluster_pct", "period": "cluster_period", "h100e": "cluster_h100e"}),
                on="entity_id", how="left")
            gap["gap_points"] = gap["chip_owner_pct"] - gap["cluster_pct"].fillna(0.0)
            gap = gap.sort_values("chip_owner_pct", ascending=False).reset_index(drop=True)
    return {"release": rel.iloc[0].to_dict() if len(rel) else None, "credits": credits,
            "quarantined": q("SELECT dataset, sha256, as_of, run_date, reason FROM epoch_releases WHERE status = "
                             "'quarantined' ORDER BY processed_at DESC"),
            "markets": conc, "missing": pd.DataFrame(missing, columns=["market_id", "why"]),
            "vendor_vs_analysts": vs.sort_values(["installed_h100e_pct", "market_id"], ascending=[False, True]),
            "history": history, "dependencies": deps, "chip_owner_gap": gap,
            "frontier": q("SELECT c.market_id, c.period, c.hhi, c.hhi_upper, c.attributed_pct, c.cr1, c.top_entity_id, "
                          "e.name AS top_name FROM concentration c LEFT JOIN entities e ON e.entity_id = c.top_entity_id "
                          "WHERE c.run_date = :d AND c.market_id LIKE 'compute.epoch.frontier-training%' "
                          "ORDER BY c.market_id, c.period"),
            "citation": cfg["datasets"]["gpu_clusters"]["citation"]}


def changes_tables(run_date, settings: Settings | None = None) -> dict:
    """What changed between ``run_date`` and the run before it (the latest earlier run date with
    published concentration): ``previous`` (that date or None); ``crossings`` (alerts that started
    or stopped firing: rule_id, subject_id, change "new"/"resolved", value, threshold);
    ``deals`` (stakes and compute deals known now and not in the previous run: kind, date, from_id,
    to_id, amount_usd_bn, amount_basis, source, ref_row); ``scores`` (relationships whose antitrust
    score moved, in points 0-100, largest first); ``hhi`` (market-periods new or with another HHI,
    points). Read-only."""
    d = run_date
    prev = store.read_sql("SELECT MAX(run_date) AS p FROM concentration WHERE run_date < :d", {"d": d}, settings)["p"]
    p = prev.iloc[0] if len(prev) and pd.notna(prev.iloc[0]) else None
    out: dict = {"previous": p}
    state = store.read_sql(
        "SELECT s.rule_id, s.subject_id, s.status, s.value, s.threshold, b.status AS before FROM alert_state s "
        "LEFT JOIN (SELECT a.rule_id, a.subject_id, a.status FROM alert_state a JOIN (SELECT rule_id, subject_id, "
        "MAX(run_date) AS run_date FROM alert_state WHERE run_date < :d GROUP BY rule_id, subject_id) m "
        "ON m.rule_id = a.rule_id AND m.subject_id = a.subject_id AND m.run_date = a.run_date) b "
        "ON b.rule_id = s.rule_id AND b.subject_id = s.subject_id WHERE s.run_date = :d", {"d": d}, settings)
    now, before = state["status"].eq("FIRING"), state["before"].eq("FIRING")
    change = pd.Series(None, index=state.index, dtype=object).mask(now & ~before, "new").mask(~now & before, "resolved")
    out["crossings"] = (state.assign(change=change).dropna(subset=["change"])
                        .sort_values(["change", "rule_id", "value"], ascending=[True, True, False])
                        [["rule_id", "subject_id", "change", "value", "threshold"]]
                        .astype({"value": "float64", "threshold": "float64"}).reset_index(drop=True))
    deals = []
    for table, a, b, kind in (("investment_facts", "investor_id", "investee_id", "stake or investment"),
                              ("commitment_facts", "buyer_id", "supplier_id", "compute deal")):
        cols = (f"date, {a} AS from_id, {b} AS to_id, amount_usd_bn, amount_basis, source, source_url, ref_row")
        cur = store.read_sql(f"SELECT {cols} FROM {table} WHERE run_date = :d", {"d": d}, settings)
        old = (store.read_sql(f"SELECT {cols} FROM {table} WHERE run_date = :p", {"p": p}, settings)
               if p is not None else cur.iloc[0:0])
        key = ["date", "from_id", "to_id", "source_url"]
        seen = pd.MultiIndex.from_frame(old[key].astype(str))
        fresh = cur[~pd.MultiIndex.from_frame(cur[key].astype(str)).isin(seen)] if p is not None else cur.iloc[0:0]
        deals.append(fresh.assign(kind=kind))
    out["deals"] = (pd.concat(deals, ignore_index=True).sort_values("date", ascending=False, kind="stable")
                    [["kind", "date", "from_id", "to_id", "amount_usd_bn", "amount_basis", "source", "ref_row"]]
                    .astype({"amount_usd_bn": "float64"}).reset_index(drop=True))
    sc = store.read_sql("SELECT investor_id, investee_id, score, previous_score, score_change, movement_flag "
                        "FROM antitrust_scores WHERE run_date = :d AND subject_type = 'relationship' AND "
                        "score_change IS NOT NULL AND ABS(score_change) >= 0.5", {"d": d}, settings)
    # an all-NULL column reads back as object dtype: make the numbers numbers before sorting
    sc = sc.astype({c: "float64" for c in ("score", "previous_score", "score_change")})
    out["scores"] = (sc.assign(_a=sc["score_change"].abs()).sort_values("_a", ascending=False)
                     .drop(columns="_a").reset_index(drop=True))
    hh = store.read_sql(
        "SELECT c.market_id, c.period, b.hhi AS previous_hhi, c.hhi, c.hhi - b.hhi AS hhi_change, b.zone AS "
        "previous_zone, c.zone FROM concentration c LEFT JOIN concentration b ON b.run_date = :p AND "
        "b.market_id = c.market_id AND b.period = c.period WHERE c.run_date = :d AND (b.market_id IS NULL OR "
        "ABS(c.hhi - b.hhi) > 0.5 OR c.zone <> b.zone)", {"d": d, "p": p}, settings) if p is not None else None
    if hh is not None:  # only new market-periods: previous_hhi and hhi_change are all NULL
        hh = hh.astype({c: "float64" for c in ("previous_hhi", "hhi", "hhi_change")})
    out["hhi"] = (hh.assign(_a=hh["hhi_change"].abs().fillna(1e12)).sort_values("_a", ascending=False)
                  .drop(columns="_a").reset_index(drop=True)) if hh is not None else pd.DataFrame(
        columns=["market_id", "period", "previous_hhi", "hhi", "hhi_change", "previous_zone", "zone"])
    return out


def format_table(df: pd.DataFrame) -> str:
    """Plain-text table: HHI in points without decimals, shares in percent."""
    if df.empty:
        return "(no rows published yet: run `riskmodels run --date YYYY-MM-DD` or `make run`)"
    out = df.copy()
    for col in ("hhi", "hhi_upper"):
        if col in out:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
    for col in ("mhhi", "delta_mhhi", "delta_mhhi_common", "delta_mhhi_strategic"):
        if col in out:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:,.1f}")
    if "fresh" in out:
        out["fresh"] = out["fresh"].map(lambda v: "" if pd.isna(v) else ("fresh" if bool(v) else "stale"))
    for col in ("attributed_pct", "cr4", "top_supplier_share_pct"):
        if col in out:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}%")
    for col in ("score", "score_pca", "score_change"):
        if col in out:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    out = out.astype(object).where(out.notna(), "")  # unknown shows as blank, not NaN/None
    return out.to_string(index=False)


def where_results_are(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return "\n".join([
        f"Risk store:  {settings.db_url}",
        "  scores:    concentration, ownership_concentration, mhhi_drivers, lockin_scores, circular_flows, antitrust_scores",
        "  facts:     market_share_facts, investment_facts, commitment_facts, ownership_links, entities, markets",
        "  SEC:       sec_filings, sec_stakes, sec_holdings, sec_segment_revenue, sec_shares_outstanding",
        "  Epoch AI:  epoch_releases, epoch_clusters, epoch_data_centers, epoch_frontier_models;",
        "             compute_links, compute_hhi_bands (compute markets: concentration WHERE layer = 'compute')",
        "  feeds:     feed_items, candidate_events, candidate_deals (riskmodels review list | show | accept | reject)",
        "  audit:     raw_inputs, validation_results, pipeline_runs, alert_state, alert_outbox, fetch_log",
        "  views:     v_latest_concentration, v_concentration_change, v_mhhi_band, v_latest_lockin,",
        "             v_latest_circular_flows, v_latest_antitrust, v_antitrust_movers",
        f"Alerts:      {settings.var / 'outbox'} (when no SMTP connection is configured)",
        f"Storage:     {settings.storage_url}",
        "  landing/blobs/ (raw inputs by sha256), reports/, gx/data_docs/index.html (GX Data Docs, one folder per run)",
    ])


#: first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection")
FORMULA_START = r"^[=+\-@\t\r]"


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as spreadsheet formulas: a cell beginning
    with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP CSV
    injection guidance). Numeric, boolean and date columns are untouched; text of third-party
    pages (names, explanations) is what this guards."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        text = s.astype("string")
        risky = text.str.contains(FORMULA_START, regex=True).fillna(False).to_numpy(dtype=bool)
        if risky.any():
            out[col] = s.astype(object).where(~risky, "'" + text.astype(object))
    return out


def export(run_date, fmt: str = "csv", out_dir=None, settings: Settings | None = None) -> list:
    """Write every score table's rows for ``run_date`` to ``out_dir`` (default
    ``var/exports/<date>``) as CSV (formula-safe text, see :func:`csv_safe`) or Parquet (values as
    stored); returns the paths written."""
    from pathlib import Path

    settings = settings or get_settings()
    out = Path(out_dir or settings.var / "exports" / run_date.isoformat())
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in store.SCORE_TABLES:
        df = store.read_sql(f"SELECT * FROM {name} WHERE run_date = :d", {"d": run_date}, settings)
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            csv_safe(df).to_csv(path, index=False)
        else:
            df.to_parquet(path, index=False)
        paths.append(path)
    return paths
