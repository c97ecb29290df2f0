"""SEC facts into the daily model, point in time by filing date (a backfill stays honest).

:func:`filed_rows` reads the ``sec_*`` fact tables of the store and returns rows in the shape of
the pipeline's datasets, each with confidence ``filed`` and its filing (accession, form, filing
address, filed date, acceptance time):

* ``market_shares`` / ``markets``: reported segment revenue (``config/segments.yaml``) as market
  series of their own; a share is of the REPORTING firms' summed revenue (no market size is
  known, so there is no remainder); 3-month and 12-month facts only (year-to-date durations are
  kept apart in the store, not made into series), each fiscal period assigned to the calendar
  quarter or year it overlaps most; restatements deduplicated by (concept, start, end,
  dimensions), the latest filed kept;
* ``institutional_holders``: 13F-HR positions (:func:`~riskmodels.sources.sec.form13f.holder_table`:
  amendments, put/call apart, discretion and other-manager rows summed once) in issuers of the
  registry, mapped by CUSIP issuer prefix, as percent of shares outstanding (nearest
  ``dei:EntityCommonStockSharesOutstanding`` / balance-sheet count within ``max_shares_gap_days``
  of the quarter end, filed by the run date); filers not in the registry get holder id
  ``cik-<CIK>``;
* ``stake_rights`` (strategic: the reporting person is a firm of the registry) and
  ``institutional_holders`` (anyone else): SCHEDULE 13D/13G, the filing group's percent of
  class (never a sum of joint filers), an exit at 0.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd

from ...config import Settings, get_settings, load_yaml

CONFIDENCE = "filed"


def segments_config(settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return load_yaml(settings.home / "config" / "segments.yaml")


def sec_markets(settings: Settings | None = None) -> pd.DataFrame:
    """The filing-sourced market definitions (columns of ``data/markets.csv``)."""
    cfg = segments_config(settings)
    rows = [{"market_id": mid, "layer": m["layer"], "definition": " ".join(str(m["definition"]).split()),
             "geography": m["geography"], "analyst": m["analyst"], "metric": m["metric"]}
            for mid, m in cfg["markets"].items()]
    return pd.DataFrame(rows, columns=["market_id", "layer", "definition", "geography", "analyst", "metric"])


def _known(frame: pd.DataFrame, run_date: dt.date) -> pd.DataFrame:
    """Rows whose filing was accepted (else filed) on or before ``run_date``; rows without a
    filing date (recorded samples) are never known."""
    when = pd.to_datetime(frame["accepted_at"].astype("string").str[:10], errors="coerce").fillna(
        pd.to_datetime(frame["filed"], errors="coerce"))
    return frame[(when <= pd.Timestamp(run_date)).fillna(False).to_numpy(bool)].assign(_known=when)


def _read(table: str, settings: Settings) -> pd.DataFrame:
    from ... import store

    return store.read_sql(f"SELECT * FROM {table}", settings=settings)


# --------------------------------------------------------------------------- calendar alignment
def calendar_period(start: pd.Series, end: pd.Series, months: pd.Series) -> pd.DataFrame:
    """Calendar quarter (3-month facts) or year (12-month facts) each fiscal period overlaps
    most, by its start and end dates: ``period`` (``2024Q4`` / ``2024FY``, None for other
    durations), ``overlap_days``, ``days``. Vectorised."""
    s, e = pd.to_datetime(start), pd.to_datetime(end)
    mid = s + (e - s) / 2
    q = mid.dt.quarter
    y = mid.dt.year
    q_start = pd.to_datetime(dict(year=y, month=3 * (q - 1) + 1, day=1))
    q_end = q_start + pd.offsets.QuarterEnd(0)
    y_start, y_end = pd.to_datetime(dict(year=y, month=1, day=1)), pd.to_datetime(dict(year=y, month=12, day=31))
    is_q, is_y = months.eq(3), months.eq(12)
    lo = np.where(is_q, q_start, y_start).astype("datetime64[ns]")
    hi = np.where(is_q, q_end, y_end).astype("datetime64[ns]")
    overlap = (np.minimum(e.to_numpy("datetime64[ns]"), hi) - np.maximum(s.to_numpy("datetime64[ns]"), lo)
               ) / np.timedelta64(1, "D") + 1
    period = np.where(is_q, y.astype(str) + "Q" + q.astype(str), np.where(is_y, y.astype(str) + "FY", None))
    return pd.DataFrame({"period": period, "overlap_days": overlap, "days": (e - s).dt.days + 1}, index=start.index)


def segment_shares(revenue: pd.DataFrame, entities: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Market-share rows (``data/market_shares.csv`` columns plus accession, form, accepted_at)
    from known ``sec_segment_revenue`` rows. Revenue in USD -> ``revenue_usd_bn`` (USD bn); share
    in percent of the reporting firms' sum per market and period."""
    cols = ["market_id", "period", "period_type", "entity_id", "raw_name", "share_pct", "market_size_usd_bn",
            "units_m", "revenue_usd_bn", "segment", "metric", "estimate_type", "source", "source_url", "source_date",
            "confidence", "notes", "ref_file", "ref_row", "accession", "form", "accepted_at"]
    if revenue.empty:
        return pd.DataFrame(columns=cols)
    ciks = entities.set_index("entity_id")["cik"].dropna().astype(str).to_dict()
    members = pd.DataFrame([{**m, "market_id": mid, "cik": ciks.get(m["filer"])}
                            for mid, mk in cfg["markets"].items() for m in mk["members"]])
    members = members[members["cik"].notna()]
    # restatements: one value per (cik, concept, start, end, dimensions), the latest filed
    rev = revenue.sort_values(["_known", "accession"]).drop_duplicates(
        ["cik", "concept", "period_start", "period_end", "dimensions"], keep="last")
    # one member per row: the member's own single-axis context (no further dimensions)
    rev = rev[rev["dimensions"].ne("consolidated") & ~rev["dimensions"].str.contains(";", regex=False)]
    m = rev.merge(members[["market_id", "cik", "axis", "member", "entity"]], on=["cik", "axis", "member"])
    if m.empty:
        return pd.DataFrame(columns=cols)
    # the first configured revenue concept the filer uses for that period
    rank = {c: i for i, c in enumerate(cfg["concepts"])}
    m = m.assign(_rank=m["concept"].map(rank)).dropna(subset=["_rank"])
    m = m.sort_values("_rank").drop_duplicates(["market_id", "entity", "period_start", "period_end"])
    cal = calendar_period(m["period_start"], m["period_end"], m["duration_months"].astype(int))
    m = m.assign(period=cal["period"], _overlap=cal["overlap_days"], _days=cal["days"])
    m = m[m["period"].notna() & (m["_overlap"] > m["_days"] / 2)]
    # one fact per firm and calendar period (the one overlapping most)
    m = m.sort_values("_overlap").drop_duplicates(["market_id", "entity", "period"], keep="last")
    n_firms = m.groupby(["market_id", "period"])["entity"].transform("size")
    m = m[n_firms >= int(cfg.get("min_reporting_firms", 2))]
    if m.empty:
        return pd.DataFrame(columns=cols)
    total = m.groupby(["market_id", "period"])["value_usd"].transform("sum")
    aligned = m["period_start"].astype(str) + ".." + m["period_end"].astype(str)
    out = pd.DataFrame({
        "market_id": m["market_id"], "period": m["period"],
        "period_type": np.where(m["period"].str.endswith("FY"), "year", "quarter"), "entity_id": m["entity"],
        "raw_name": m["member"], "share_pct": m["value_usd"] / total * 100.0, "market_size_usd_bn": None,
        "units_m": None, "revenue_usd_bn": m["value_usd"] / 1e9, "segment": m["member"],
        "metric": "share of the reporting firms' summed reported revenue",
        "estimate_type": "reported (XBRL)",
        "source": "SEC EDGAR " + m["form"] + " " + m["accession"] + ": " + m["concept"] + " [" + m["axis"] + " = "
                  + m["member"] + "], " + aligned,
        "source_url": m["filing_url"], "source_date": pd.to_datetime(m["filed"]).dt.strftime("%Y-%m-%d"),
        "confidence": CONFIDENCE,
        "notes": ("share of the reporting firms' sum (" + n_firms[m.index].astype(str) + " firms), not of the "
                  "market; fiscal period " + aligned + " aligned to " + m["period"] + " ("
                  + m["_overlap"].astype(int).astype(str) + " of " + m["_days"].astype(str) + " days)"),
        "ref_file": m["accession"], "ref_row": None, "accession": m["accession"], "form": m["form"],
        "accepted_at": m["accepted_at"]})
    return out[cols].reset_index(drop=True)


MARGIN_COLUMNS = ["entity_id", "margin", "kind", "concept", "revenue_concept", "axis", "member", "period_start",
                  "period_end", "operating_income_usd_bn", "revenue_usd_bn", "accession", "form", "source",
                  "source_url", "label"]


def segment_margins(facts: pd.DataFrame, entities: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Segment operating margins (fraction of revenue) from known ``sec_segment_revenue`` rows:
    per configured member (``config/segments.yaml``), operating income over the same member's
    revenue (the first configured revenue concept) for the same 12-month fiscal period, from the
    latest period filed; restatements resolved as in :func:`segment_shares`. Money in USD bn.
    A segment that made an operating loss keeps its (negative) margin: screens then call it not
    usable rather than guess. ``label`` is ``filing`` (a cited, reported figure)."""
    income = (cfg.get("margin_concepts") or {}).get("operating_income")
    if facts.empty or not income:
        return pd.DataFrame(columns=MARGIN_COLUMNS)
    ciks = entities.set_index("entity_id")["cik"].dropna().astype(str).to_dict()
    members = pd.DataFrame([{**m, "cik": ciks.get(m["filer"])} for mk in cfg["markets"].values()
                            for m in mk["members"]])
    members = members[members["cik"].notna()].drop_duplicates(["cik", "axis", "member", "entity"])
    # the member's own context, or it paired with a segment_contexts dimension (sorted, as parsed)
    own = members["axis"] + "=" + members["member"]
    ctx = [members.assign(dimensions=own, _ctx=0)] + [
        members.assign(dimensions=[";".join(sorted([o, extra])) for o in own], _ctx=i + 1)
        for i, extra in enumerate(cfg.get("segment_contexts") or [])]
    members = pd.concat(ctx, ignore_index=True)
    f = facts.sort_values(["_known", "accession"]).drop_duplicates(
        ["cik", "concept", "period_start", "period_end", "dimensions"], keep="last")
    f = f[pd.to_numeric(f["duration_months"], errors="coerce") == 12].drop(columns=["axis", "member"])
    f = f.merge(members[["cik", "dimensions", "axis", "member", "entity", "_ctx"]], on=["cik", "dimensions"])
    f = f.sort_values("_ctx").drop_duplicates(["entity", "concept", "period_start", "period_end"])
    rank = {c: i for i, c in enumerate(cfg["concepts"])}
    rev = f.assign(_rank=f["concept"].map(rank)).dropna(subset=["_rank"]).sort_values("_rank").drop_duplicates(
        ["entity", "period_start", "period_end"])
    inc = f[f["concept"] == income]
    key = ["entity", "axis", "member", "period_start", "period_end"]
    m = inc.merge(rev[key + ["concept", "value_usd"]].rename(columns={"concept": "revenue_concept",
                                                                       "value_usd": "revenue_usd"}), on=key)
    m = m[m["revenue_usd"] > 0]
    if m.empty:
        return pd.DataFrame(columns=MARGIN_COLUMNS)
    m = m.sort_values(["entity", "period_end"]).groupby("entity").tail(1)
    span = m["period_start"].astype(str) + ".." + m["period_end"].astype(str)
    out = pd.DataFrame({
        "entity_id": m["entity"], "margin": m["value_usd"] / m["revenue_usd"], "kind": "segment operating margin",
        "concept": m["concept"], "revenue_concept": m["revenue_concept"], "axis": m["axis"], "member": m["member"],
        "period_start": m["period_start"], "period_end": m["period_end"],
        "operating_income_usd_bn": m["value_usd"] / 1e9, "revenue_usd_bn": m["revenue_usd"] / 1e9,
        "accession": m["accession"], "form": m["form"],
        "source": ("SEC EDGAR " + m["form"].astype(str) + " " + m["accession"] + ": " + m["concept"] + " / "
                   + m["revenue_concept"] + " [" + m["axis"] + " = " + m["member"] + "], " + span
                   + " (segment operating margin: below the price-cost margin, so a screen from it errs low)"),
        "source_url": m["filing_url"], "label": "filing"})
    return out[MARGIN_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- ownership
def _cusip_map(entities: pd.DataFrame) -> pd.Series:
    """CUSIP issuer prefix (6 characters) -> entity id (every listed class of a registry issuer)."""
    e = entities[["entity_id", "cusips"]].dropna()
    codes = e.assign(cusip=e["cusips"].str.split(";")).explode("cusip")
    codes = codes[codes["cusip"].str.len() >= 6]
    return codes.assign(prefix=codes["cusip"].str[:6]).drop_duplicates("prefix").set_index("prefix")["entity_id"]


def shares_outstanding(so: pd.DataFrame) -> pd.DataFrame:
    """Total shares outstanding per (cik, as_of, accession): the consolidated value where the
    filing gives one, else the sum of the cover page's classes (``dei``). Prefers the cover page
    (dei) over the balance sheet and inline over companyfacts for the same date."""
    if so.empty:
        return pd.DataFrame(columns=["cik", "as_of", "shares", "accession", "_known"])
    so = so.assign(_dei=so["concept"].str.startswith("dei:"), _all=so["security_class"].eq("all"))
    whole = so[so["_all"]]
    classes = so[~so["_all"] & so["_dei"]].groupby(["cik", "as_of", "accession", "concept", "origin"], as_index=False).agg(
        shares=("shares", "sum"), _known=("_known", "max"), _dei=("_dei", "first"))
    tot = pd.concat([whole[["cik", "as_of", "accession", "concept", "origin", "shares", "_known", "_dei"]], classes],
                    ignore_index=True)
    tot = tot.assign(_pref=(~tot["_dei"]).astype(int) * 2 + tot["origin"].ne("inline").astype(int))
    tot = tot.sort_values(["_pref", "_known"], ascending=[True, False]).drop_duplicates(["cik", "as_of"])
    return tot[["cik", "as_of", "shares", "accession", "_known"]].reset_index(drop=True)


def holder_rows(holdings: pd.DataFrame, so: pd.DataFrame, entities: pd.DataFrame, max_gap_days: int) -> pd.DataFrame:
    """``institutional_holders`` rows from known 13F rows (percent of shares outstanding)."""
    from .form13f import holder_table

    cols = ["as_of", "company_id", "holder_id", "company", "holder", "holder_type", "pct_shares_outstanding",
            "pct_voting_power", "source", "source_url", "source_date", "confidence", "notes", "ref_file", "ref_row"]
    if holdings.empty:
        return pd.DataFrame(columns=cols)
    prefix = _cusip_map(entities)
    h = holdings[holdings["cusip"].str[:6].isin(prefix.index)]
    if h.empty:
        return pd.DataFrame(columns=cols)
    h = h.assign(period_end=pd.to_datetime(h["period_end"]), filed=pd.to_datetime(h["filed"]))
    pos = holder_table(h).astype({"holder_cik": str, "cusip": str, "accession": str})
    pos["period_end"] = pd.to_datetime(pos["period_end"].astype(str)).astype("datetime64[ns]")
    pos["company_id"] = pos["cusip"].str[:6].map(prefix)
    pos = pos.groupby(["holder_cik", "period_end", "company_id"], as_index=False).agg(
        shares=("shares", "sum"), voting_sole=("voting_sole", "sum"), voting_shared=("voting_shared", "sum"),
        voting_none=("voting_none", "sum"), accession=("accession", "min"), n_accessions=("n_accessions", "max"))
    ent = entities.set_index("entity_id")
    cik_of = ent["cik"].dropna().astype(str)
    pos["cik"] = pos["company_id"].map(cik_of)
    # nearest shares-outstanding figure of the issuer to the quarter end, within the gap
    # one resolution on both sides (SQLite hands dates back as text, PostgreSQL as dates)
    tot = shares_outstanding(so).assign(as_of=lambda d: pd.to_datetime(d["as_of"].astype(str)).astype("datetime64[ns]"))
    pos = pos.sort_values("period_end")
    tot = tot.sort_values("as_of")
    pos = pd.merge_asof(pos, tot[["cik", "as_of", "shares", "accession"]].rename(
        columns={"shares": "outstanding", "accession": "so_accession", "as_of": "so_as_of"}),
        left_on="period_end", right_on="so_as_of", by="cik", direction="nearest",
        tolerance=pd.Timedelta(days=max_gap_days))
    filer = {v: k for k, v in cik_of.items()}
    holder_id = pos["holder_cik"].astype(str).map(filer).fillna("cik-" + pos["holder_cik"].astype(str))
    names = holdings.drop_duplicates("holder_cik").set_index("holder_cik")["holder_name"]
    first = pos["accession"]
    meta = holdings.drop_duplicates("accession").set_index("accession")
    pct = pos["shares"] / pos["outstanding"] * 100.0
    notes = ("13F-HR " + pos["period_end"].dt.strftime("%Y-%m-%d") + ": " + pos["shares"].map("{:,.0f}".format)
             + " shares (classes summed); voting authority sole " + pos["voting_sole"].map("{:,.0f}".format)
             + ", shared " + pos["voting_shared"].map("{:,.0f}".format) + ", none " + pos["voting_none"].map("{:,.0f}".format)
             + "; shares outstanding " + pos["outstanding"].map(lambda v: "unknown" if pd.isna(v) else f"{v:,.0f}")
             + np.where(pos["so_accession"].notna(), " (" + pos["so_accession"].fillna("") + " as of "
                        + pos["so_as_of"].dt.strftime("%Y-%m-%d").fillna("") + ")", "")
             + "; " + np.where(pos["n_accessions"] > 1, "with a NEW HOLDINGS amendment", "one filing"))
    out = pd.DataFrame({
        "as_of": pos["period_end"].dt.strftime("%Y-%m-%d"), "company_id": pos["company_id"], "holder_id": holder_id,
        "company": pos["company_id"].map(ent["name"]), "holder": pos["holder_cik"].map(names),
        "holder_type": "13F filer", "pct_shares_outstanding": pct, "pct_voting_power": None,
        "source": "SEC EDGAR 13F-HR " + first, "source_url": first.map(meta["filing_url"]),
        "source_date": first.map(meta["filed"]).astype(str).str[:10], "confidence": CONFIDENCE, "notes": notes,
        "ref_file": first, "ref_row": None})
    return out[cols].reset_index(drop=True)


def stake_rows(stakes: pd.DataFrame, entities: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``stake_rights`` rows, ``institutional_holders`` rows) from known 13D/13G rows whose issuer
    is in the registry: strategic when the reporting person is a registry firm."""
    if stakes.empty:
        return pd.DataFrame(), pd.DataFrame()
    ent = entities.set_index("entity_id")
    by_cik = {v: k for k, v in ent["cik"].dropna().astype(str).items()}
    prefix = _cusip_map(entities)
    s = stakes.assign(issuer_id=stakes["issuer_cik"].astype("string").map(by_cik).fillna(
        stakes["issuer_cusip"].astype("string").str[:6].map(prefix)))
    s = s[s["issuer_id"].notna()]
    if s.empty:
        return pd.DataFrame(), pd.DataFrame()
    # the filing group is one stake: the first person of each filing carries the group's percent
    s = s.sort_values(["accession", "person_no"]).drop_duplicates("accession")
    s = s.assign(holder_id=s["reporting_person_cik"].astype("string").map(by_cik))
    pct = s["group_percent_of_class"].fillna(s["percent_of_class"]).where(~s["is_exit"].astype(bool), 0.0)
    voting = np.where((s["sole_voting"].fillna(0) + s["shared_voting"].fillna(0)) > 0, "yes", "unknown")
    src = "SEC EDGAR " + s["form"] + " " + s["accession"]
    note = ("percent of class " + pct.map(lambda v: f"{v:g}") + " (filing group, not a sum of joint filers)"
            + np.where(s["is_exit"].astype(bool), "; exit (0% or 5% or less)", ""))
    firm = s["holder_id"].map(ent["kind"]).eq("firm")
    strategic = pd.DataFrame({
        "as_of": s["event_date"].astype(str), "investor_id": s["holder_id"], "investee_id": s["issuer_id"],
        "investor": s["reporting_person"], "investee": s["issuer_name"], "stake_pct": pct, "voting": voting,
        "board_seat": "unknown", "board_observer": "unknown", "consultation_or_info_rights": None,
        "exclusivity_or_rofr": None, "revenue_share": None, "cap_pct": None, "notes": note, "source": src,
        "source_url": s["filing_url"], "source_date": s["filed"].astype(str).str[:10], "confidence": CONFIDENCE,
        "ref_file": s["accession"], "ref_row": None})[firm.to_numpy()]
    holders = pd.DataFrame({
        "as_of": s["event_date"].astype(str), "company_id": s["issuer_id"],
        "holder_id": s["holder_id"].fillna("cik-" + s["reporting_person_cik"].astype("string")).fillna(
            "person-" + s["reporting_person"].str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")),
        "company": s["issuer_name"], "holder": s["reporting_person"], "holder_type": "13D/13G filer",
        "pct_shares_outstanding": pct, "pct_voting_power": None, "source": src, "source_url": s["filing_url"],
        "source_date": s["filed"].astype(str).str[:10], "confidence": CONFIDENCE, "notes": note,
        "ref_file": s["accession"], "ref_row": None})[(~firm).to_numpy()]
    return strategic.reset_index(drop=True), holders.reset_index(drop=True)


def filed_rows(run_date: dt.date, entities: pd.DataFrame, settings: Settings | None = None) -> dict:
    """Rows from SEC filings known by ``run_date`` for the pipeline's datasets, plus a
    ``sha256`` fingerprint of them (recorded with the run's inputs)."""
    settings = settings or get_settings()
    cfg = segments_config(settings)
    rev = _known(_read("sec_segment_revenue", settings), run_date)
    hold = _known(_read("sec_holdings", settings), run_date)
    so = _known(_read("sec_shares_outstanding", settings), run_date)
    stakes = _known(_read("sec_stakes", settings), run_date)
    shares = segment_shares(rev, entities, cfg)
    holders13f = holder_rows(hold, so, entities, int(cfg.get("max_shares_gap_days", 190)))
    strategic, holders13 = stake_rows(stakes, entities)
    out = {"market_shares": shares, "markets": sec_markets(settings) if len(shares) else sec_markets(settings).iloc[:0],
           "segment_margins": segment_margins(rev, entities, cfg),
           "institutional_holders": pd.concat([f for f in (holders13f, holders13) if len(f)] or [holders13f],
                                              ignore_index=True),
           "stake_rights": strategic}
    digest = hashlib.sha256()
    for name in sorted(out):
        digest.update(name.encode())
        digest.update(out[name].to_csv(index=False).encode())
    out["sha256"] = digest.hexdigest()
    return out
