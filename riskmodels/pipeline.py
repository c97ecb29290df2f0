"""The daily pipeline as four library calls: ingest -> validate -> score -> publish.

The Airflow DAG calls one function per task and passes only the small dicts they return
(paths, hashes, run ids) through XCom; :func:`run` calls the same functions in-process for
``riskmodels run --date``.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import time

import pandas as pd

from . import storage, store
from .concentration import concentration_table, zone
from .config import Settings, get_settings, load_yaml, thresholds
from .dates import known_by, period_end
from .ingest import land, load_sources, read_landed
from .screens import load_config as load_screens_config
from .validate import load_suite_dict, prepare_frame, validate_refs

log = logging.getLogger(__name__)

#: confidence grades, lowest first; ``filed``: a primary regulatory filing (SEC EDGAR)
#: ``reviewed``: a regulator's feed item or an 8-K an analyst confirmed (riskmodels.review)
CONFIDENCE_ORDER = ["low", "medium-low", "medium", "medium-high", "high", "reviewed", "filed"]
#: datasets that rows from SEC filings (riskmodels.sources.sec.model) are added to
FILED_DATASETS = ("markets", "market_shares", "stake_rights", "institutional_holders")
#: datasets the run cannot score without (their suites also require at least one row)
REQUIRED_ROWS = ("entities", "markets", "market_shares")


def datasets(settings: Settings | None = None) -> list[str]:
    """Names of the datasets in the sources file, in file order."""
    return list(load_sources(settings)["datasets"])


def ingest(dataset: str, run_date: dt.date, settings: Settings | None = None) -> dict:
    """Land one dataset for ``run_date``; returns its landing reference."""
    return land(dataset, run_date, settings)


def validate(refs: list[dict], run_date: dt.date, run_id: str | None = None,
             settings: Settings | None = None) -> dict:
    """Validate every landed dataset; raises DataQualityError on a critical failure."""
    return validate_refs(refs, run_date, run_id=run_id, settings=settings)


def _typed(ref: dict, settings: Settings) -> pd.DataFrame:
    frame = prepare_frame(read_landed(ref), load_suite_dict(ref["suite"], settings).get("meta", {}))
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("__")])
    frame["input_sha256"] = ref["sha256"]
    return frame


def _point_in_time(frame: pd.DataFrame, ref: dict, run_date: dt.date) -> pd.DataFrame:
    cols = ref.get("known_date") or []
    if not cols:
        return frame
    return frame[known_by(frame, cols, run_date, caps=ref.get("compiled_date"))]


#: the zone of a series whose shares are of the reporting firms' sum (not a relevant market)
NOT_A_MARKET_ZONE = "n/a: reporting firms' sum"


def market_names(markets: pd.DataFrame) -> dict[str, str]:
    """A display name per market id: its definition (or, when that is long, its metric), geography
    and analyst series ("Enterprise LLM usage for code generation, US — Menlo Ventures")."""
    if markets.empty or not {"definition", "geography", "analyst"} <= set(markets.columns):
        return {}
    d = markets["definition"].fillna("").astype(str)
    # a long definition, or one written against another market ("As compute.epoch..., clusters in the US"),
    # reads better as the metric
    usable = d.str.len().between(1, 90) & ~d.str.startswith("As ")
    what = d.where(usable, markets.get("metric", d).fillna(d).astype(str))
    name = what + ", " + markets["geography"].fillna("").astype(str) + " — " + markets["analyst"].fillna("").astype(str)
    return dict(zip(markets["market_id"], name))


def compute_scores(frames: dict[str, pd.DataFrame], run_date: dt.date, zones: dict,
                   ownership_cfg: dict | None = None, risk_cfg: dict | None = None,
                   previous_antitrust: pd.DataFrame | None = None,
                   partial_markets: frozenset[str] = frozenset(),
                   freshness_cfg: dict | None = None,
                   coverage_change_points: float | None = None,
                   concepts_cfg: dict | None = None,
                   screens_cfg: dict | None = None,
                   memo_settings: Settings | None = None) -> dict[str, pd.DataFrame]:
    """Score tables for one run date from typed, point-in-time frames.

    ``freshness_cfg`` (``config/freshness.yaml``): each concentration row gets its cadence,
    stale-after date, age in days and ``fresh``; the antitrust components that read market shares
    (market power, horizontal overlap) then use fresh market-periods only.
    ``coverage_change_points``: a row whose attributed share differs from the previous period's of
    the same series by more than this many points is flagged ``coverage_change``.
    ``concepts_cfg`` (``config/concepts.yaml``): adds ``concept_concentration`` and
    ``concept_firm_shares`` (:mod:`riskmodels.concepts`). ``screens_cfg``
    (``config/screens.yaml``): adds ``screens`` (each stake's control class per jurisdiction,
    durable dominance per series and firm, entrenchment flags and the EU non-horizontal safe
    harbour per relationship) and the ``jurisdictional`` MHHI regime. ``memo_settings``: the
    ownership scores are kept under that storage root and read back when their inputs recur
    (:func:`riskmodels.ownership.ownership_scores`).

    ``partial_markets``: series whose shares are of the reporting firms' sum (SEC segment
    revenue): their HHI and MHHI are computed, but no guideline zone applies (``NOT_A_MARKET_ZONE``).

    Returns DataFrames for ``market_share_facts``, ``concentration``, ``investment_facts``,
    ``commitment_facts`` (and ``compute_links`` and ``compute_hhi_bands`` when ``frames`` has them: see
    :func:`with_compute_rows`, which also adds ``compute_links_lockin`` and ``compute_own_h100e``
    for lock-in) and, when the stake and holder datasets are present,
    ``ownership_concentration``, ``ownership_links`` and ``mhhi_drivers``, and with ``risk_cfg``
    ``lockin_scores``, ``circular_flows`` and ``antitrust_scores`` (see :mod:`riskmodels.store`
    for columns and units).
    """
    from .validate import DataQualityError

    empty = [n for n in REQUIRED_ROWS if n in frames and frames[n].empty]
    if empty:
        raise DataQualityError(f"cannot score {run_date}: {', '.join(empty)} has no rows (known by the run date); "
                               "there is nothing to measure concentration on", [
                                   {"dataset": n, "expectation": "rows known by the run date", "column": None,
                                    "severity": "critical", "unexpected_count": None, "examples": [], "kwargs": {}}
                                   for n in empty])
    shares = frames["market_shares"]
    shares = shares[shares["entity_id"].notna()]
    conc = concentration_table(shares, high_above=float(zones["highly_concentrated_above"]),
                               moderate_from=float(zones["moderately_concentrated_from"]))
    markets = frames["markets"][["market_id", "layer", "analyst"]]
    conc = conc.merge(markets, on="market_id", how="left", validate="many_to_one")
    partial = conc["market_id"].isin(partial_markets)
    conc.loc[partial, ["zone", "zone_upper"]] = NOT_A_MARKET_ZONE
    conc["period_end"] = period_end(conc["period"]).dt.date
    if freshness_cfg is not None:
        from .freshness import freshness

        age = freshness(conc["market_id"], conc["period"], run_date, freshness_cfg)
        conc[["cadence", "stale_after", "data_age_days", "fresh"]] = age[["cadence", "stale_after", "data_age_days",
                                                                          "fresh"]]
    # coverage against the previous period of the same series (by period end)
    order = conc.sort_values(["market_id", "period_end"]).index
    conc.loc[order, "previous_attributed_pct"] = conc.loc[order].groupby("market_id")["attributed_pct"].shift().to_numpy()
    if coverage_change_points is not None:
        moved = (conc["attributed_pct"] - conc["previous_attributed_pct"]).abs() > float(coverage_change_points)
        conc["coverage_change"] = moved.fillna(False).astype(bool)
    grp = shares.groupby(["market_id", "period"])
    conf_rank = shares["confidence"].map({c: i for i, c in enumerate(CONFIDENCE_ORDER)})
    extra = pd.DataFrame({
        "market_size_usd_bn": grp["market_size_usd_bn"].max() if "market_size_usd_bn" in shares else None,
        "min_confidence": conf_rank.groupby([shares["market_id"], shares["period"]]).min().map(
            dict(enumerate(CONFIDENCE_ORDER))),
        # file#row; a row from a filing is cited by its accession alone
        "source_refs": (shares["ref_file"].astype(str) + ("#" + shares["ref_row"].astype("string")).fillna(""))
        .groupby([shares["market_id"], shares["period"]]).agg(";".join),
        "input_sha256": grp["input_sha256"].first(),
    }).reset_index()
    conc = conc.merge(extra, on=["market_id", "period"], how="left", validate="one_to_one")
    if concepts_cfg is not None:
        from .concepts import concept_concentration, concept_firm_shares

        names = market_names(frames["markets"])
        # a reporting firms' sum is no market: never a concept of its own (config may list it as reference)
        concept_out = {"concept_concentration": concept_concentration(conc, concepts_cfg, names, partial_markets),
                       "concept_firm_shares": concept_firm_shares(conc, shares, concepts_cfg, names, partial_markets)}
    facts = shares.drop_duplicates(["market_id", "period", "entity_id"]).copy()
    facts["ref_row"] = pd.to_numeric(facts["ref_row"]).astype("Int64")
    inv = frames["investments"].copy()
    inv["ref_row"] = pd.to_numeric(inv["ref_row"]).astype("Int64")
    com = frames["compute_commitments"].copy()
    com["ref_row"] = pd.to_numeric(com["ref_row"]).astype("Int64")
    out = {"market_share_facts": facts, "concentration": conc, "investment_facts": inv, "commitment_facts": com}
    for name in ("compute_links", "compute_hhi_bands"):
        if name in frames:
            out[name] = frames[name]
    if concepts_cfg is not None:
        out.update(concept_out)
    if ownership_cfg is not None and {"stake_rights", "institutional_holders"} <= set(frames):
        from .ownership import ownership_scores

        if screens_cfg is not None and screens_cfg.get("jurisdictional_mhhi"):
            # the jurisdictional MHHI regime reads each link's control class (riskmodels.screens)
            # (of the jurisdictions reviewing each market: config/screens.yaml by_geography)
            jm = screens_cfg["jurisdictional_mhhi"]
            ownership_cfg = {**ownership_cfg, "jurisdictional": {
                "control": screens_cfg["control"], "jurisdictions": jm["jurisdictions"],
                "by_geography": jm.get("by_geography") or {}}}
        geography = frames["markets"].set_index("market_id")["geography"] if "markets" in frames else None
        mh, links, drivers, contributions = ownership_scores(shares, frames["stake_rights"], frames["institutional_holders"],
                                              frames["entities"], run_date, ownership_cfg, geography=geography,
                                              memo_settings=memo_settings)
        mh = mh.rename(columns={"delta": "delta_mhhi", "delta_common": "delta_mhhi_common",
                                "delta_strategic": "delta_mhhi_strategic"})
        mh["zone_mhhi"] = zone(mh["mhhi"].to_numpy(), float(zones["highly_concentrated_above"]),
                               float(zones["moderately_concentrated_from"]))
        mh.loc[mh["market_id"].isin(partial_markets), "zone_mhhi"] = NOT_A_MARKET_ZONE
        out["ownership_concentration"] = mh
        out["ownership_links"] = links.assign(derived=links["derived"].astype(bool))
        out["mhhi_drivers"] = drivers
        if screens_cfg is not None:   # control per stake, durable dominance, entrenchment (riskmodels.screens)
            from .ownership import group_of
            from .screens import daily_screens

            out["screens"] = daily_screens(frames, conc, group_of(frames["entities"]), screens_cfg, run_date,
                                           partial_markets, links=links,
                                           concept_shares=out.get("concept_firm_shares"))
        if risk_cfg is not None:
            from .antitrust import antitrust_scores
            from .circular import money_graph, round_trips
            from .lockin import lockin_scores

            own = frames.get("compute_own_h100e")
            lk = lockin_scores(com, inv, frames["stake_rights"], frames["entities"], risk_cfg,
                               links=frames.get("compute_links_lockin"),
                               own_h100e=None if own is None else dict(zip(own["entity_id"], own["h100e"])))
            loops = round_trips(money_graph(inv, com, frames["entities"], risk_cfg, loops_only=True))
            events = frames.get("regulatory_events", pd.DataFrame(columns=["date", "party_ids", "authority",
                                                                              "event_type"]))
            out["lockin_scores"] = lk
            out["circular_flows"] = loops
            # market power and overlap read fresh market-periods only (when freshness is configured)
            fresh_keys = (conc.loc[conc["fresh"].astype(bool), ["market_id", "period"]] if "fresh" in conc
                          else conc[["market_id", "period"]])
            shares_now = shares.merge(fresh_keys, on=["market_id", "period"])
            contrib_now = (contributions.merge(fresh_keys, on=["market_id", "period"])
                           if {"market_id", "period"} <= set(contributions.columns) else contributions)
            out["antitrust_scores"] = antitrust_scores(
                {"investments": inv, "shares": shares_now, "contributions": contrib_now, "commitments": com,
                 "stakes": frames["stake_rights"], "lockin": lk, "loops": loops, "events": events,
                 "screens": out.get("screens")},
                frames["entities"], risk_cfg, previous_antitrust)
    return out


def stage_frames(frames: dict[str, pd.DataFrame], run_date: dt.date, run_id: str,
                 settings: Settings | None = None) -> dict:
    """Conform each score frame to its store table and write it as Parquet under
    ``staging/<run_date>/<run_id>/`` in the storage root (any worker can read it). Returns the
    staging reference for :func:`publish` (the folder's URL, tables, row counts)."""
    settings = settings or get_settings()
    stage = storage.path("staging", run_date.isoformat(), storage.safe_name(run_id), settings=settings)
    rows = {}
    for name, frame in frames.items():
        typed = store.conform(frame, store.SCORE_TABLES[name])
        buf = io.BytesIO()
        typed.to_parquet(buf, index=False)
        storage.write_bytes(stage / f"{name}.parquet", buf.getvalue())
        rows[name] = int(len(typed))
    return {"staging": str(stage), "tables": sorted(frames), "rows": rows}


def staged_frames(staged: dict) -> dict[str, pd.DataFrame]:
    """The frames a :func:`stage_frames` reference points to."""
    stage = storage.from_url(staged["staging"])
    out = {}
    for name in staged["tables"]:
        with (stage / f"{name}.parquet").open("rb") as f:
            out[name] = pd.read_parquet(f)
    return out


def with_filed_rows(frames: dict[str, pd.DataFrame], run_date: dt.date, settings: Settings) -> tuple[dict, str | None]:
    """``frames`` plus the rows that SEC filings known by ``run_date`` give (stakes, 13F
    holders, segment-revenue markets; :func:`riskmodels.sources.sec.model.filed_rows`), and the
    fingerprint of those rows (None when the store holds no SEC facts)."""
    from .sources.sec.model import filed_rows

    if "entities" not in frames:
        return frames, None
    filed = filed_rows(run_date, frames["entities"], settings)
    if not any(len(filed[n]) for n in (*FILED_DATASETS, "segment_margins")):
        return frames, None
    out = dict(frames)
    if len(filed["segment_margins"]):   # cited margins for the unilateral screens (riskmodels.screens)
        out["segment_margins"] = filed["segment_margins"]
    for name in FILED_DATASETS:
        add = filed[name]
        if name in out and len(add):
            add = add.assign(input_sha256=filed["sha256"])
            base = out[name]
            out[name] = pd.concat([base, add[[c for c in add.columns if c in base.columns or c in (
                "accession", "form", "accepted_at")]]], ignore_index=True)
    return out, filed["sha256"]


def with_reviewed_rows(frames: dict[str, pd.DataFrame], run_date: dt.date, refs: dict[str, dict],
                       settings: Settings) -> tuple[dict, str | None]:
    """``frames`` plus the candidates an analyst accepted by ``run_date`` (regulatory events,
    investments, compute commitments; :func:`riskmodels.review.reviewed_rows`), typed as their
    dataset's suite types them and point in time by the dataset's known dates, and the
    fingerprint of those rows (None when nothing was accepted)."""
    import hashlib
    import json

    from .review import reviewed_rows

    rows = {name: f for name, f in reviewed_rows(run_date, settings).items() if name in frames}
    if not rows:
        return frames, None
    sha = hashlib.sha256(json.dumps({n: f.to_dict("records") for n, f in sorted(rows.items())},
                                    sort_keys=True, default=str).encode()).hexdigest()
    out = dict(frames)
    for name, add in rows.items():
        ref = refs[name]
        text = add.astype(object).where(add.notna(), None).map(lambda v: None if v is None else str(v))
        typed = prepare_frame(text.assign(_row=range(1, len(add) + 1)),
                              load_suite_dict(ref["suite"], settings).get("meta", {}))
        typed = typed.drop(columns=[c for c in typed.columns if c.startswith("__")])
        typed = _point_in_time(typed.assign(input_sha256=sha), ref, run_date)
        base = out[name]
        out[name] = pd.concat([base, typed[[c for c in typed.columns if c in base.columns or c in (
            "reviewer", "reviewed_at")]]], ignore_index=True)
    return out, sha


def with_compute_rows(frames: dict[str, pd.DataFrame], run_date: dt.date,
                      settings: Settings) -> tuple[dict, dict[str, str], list[str]]:
    """``frames`` plus the compute markets, their share rows and the owner -> user compute links
    (``compute_links``; ``compute_links_lockin``: those lock-in counts) from the latest published
    Epoch releases known by ``run_date`` and the ``compute_ownership`` dataset
    (:func:`riskmodels.sources.epoch.model.compute_rows`); ``{"epoch_<dataset>": sha256}`` of the
    releases used, and the compute market ids added."""
    from .sources.epoch.model import compute_rows

    if not {"entities", "markets", "market_shares"} <= set(frames):
        return frames, {}, []
    rows = compute_rows(run_date, frames["entities"], settings, frames.get("compute_ownership"))
    shas = {f"epoch_{name}": str(rel["sha256"]) for name, rel in rows["releases"].items()}
    out = dict(frames)
    if len(rows["links"]):
        out["compute_links"], out["compute_links_lockin"] = rows["links"], rows["lockin_links"]
        out["compute_own_h100e"] = rows["own_h100e"]
    if len(rows["uncertainty"]):
        out["compute_hhi_bands"] = rows["uncertainty"]
    if rows["market_shares"].empty:
        return out, shas, []
    add = {"markets": rows["markets"].assign(input_sha256=rows["sha256"]), "market_shares": rows["market_shares"]}
    for name, frame in add.items():
        base = out[name]
        out[name] = pd.concat([base, frame[[c for c in frame.columns if c in base.columns]]], ignore_index=True)
    return out, shas, sorted(rows["markets"]["market_id"])


def score(refs: list[dict], run_date: dt.date, run_id: str, settings: Settings | None = None) -> dict:
    """Compute the day's scores from the landed (validated) inputs and stage them (Parquet, in
    the storage root). Returns the staging reference for :func:`publish`."""
    settings = settings or get_settings()
    t0 = time.perf_counter()
    by_name = {r["dataset"]: r for r in refs}
    frames = {name: _point_in_time(_typed(ref, settings), ref, run_date) for name, ref in by_name.items()}
    frames, filed_sha = with_filed_rows(frames, run_date, settings)
    frames, reviewed_sha = with_reviewed_rows(frames, run_date, by_name, settings)
    frames, compute_shas, compute_ids = with_compute_rows(frames, run_date, settings)
    from .sources.sec.model import sec_markets

    partial = frozenset(sec_markets(settings)["market_id"])
    previous = store.previous_scores("antitrust_scores", run_date, ["subject_type", "subject_id", "score"], settings)
    scores = compute_scores(frames, run_date, thresholds(settings)["zones"]["us-2023"],
                            load_yaml(settings.home / "config" / "ownership.yaml"),
                            load_yaml(settings.home / "config" / "risk.yaml"), previous, partial,
                            load_yaml(settings.home / "config" / "freshness.yaml"),
                            thresholds(settings).get("coverage_change_points"),
                            load_yaml(settings.home / "config" / "concepts.yaml"),
                            load_screens_config(settings.home / "config" / "screens.yaml"), memo_settings=settings)
    staged = stage_frames(scores, run_date, run_id, settings)
    staged["seconds"] = round(time.perf_counter() - t0, 4)
    # the SEC facts the scores used, recorded with the run's inputs (reproducible, traceable)
    staged["filed_sha256"] = filed_sha
    staged["reviewed_sha256"] = reviewed_sha   # the accepted candidates (riskmodels.review)
    staged["compute_sha256"] = compute_shas
    staged["compute_markets"] = compute_ids
    return staged


def publish(staged: dict, refs: list[dict], run_date: dt.date, run_id: str, step_seconds: dict | None = None,
            settings: Settings | None = None) -> dict:
    """Write the staged scores and the dimension tables in one transaction, then remove the
    staged files (a failed publish leaves them for a retry; cleanup removes old orphans)."""
    settings = settings or get_settings()
    t0 = time.perf_counter()
    scores = staged_frames(staged)
    by_name = {r["dataset"]: r for r in refs}
    dims = {name: _typed(by_name[name], settings) for name in ("entities", "markets") if name in by_name}
    if staged.get("filed_sha256") and "markets" in dims:
        from .sources.sec.model import sec_markets

        dims["markets"] = pd.concat([dims["markets"], sec_markets(settings)], ignore_index=True)
    if staged.get("compute_markets") and "markets" in dims:
        from .sources.epoch.model import compute_markets

        mk = compute_markets(settings)
        dims["markets"] = pd.concat([dims["markets"], mk[mk["market_id"].isin(staged["compute_markets"])]],
                                    ignore_index=True)
    dims = {name: store.conform(frame, store.DIMENSION_TABLES[name]) for name, frame in dims.items()}
    hashes = {r["dataset"]: r["sha256"] for r in refs}
    if staged.get("filed_sha256"):
        hashes["sec_filings"] = staged["filed_sha256"]
    if staged.get("reviewed_sha256"):
        hashes["reviewed_candidates"] = staged["reviewed_sha256"]
    hashes.update(staged.get("compute_sha256") or {})  # the Epoch releases the scores used
    steps = dict(step_seconds or {})
    steps["publish"] = None
    counts = store.publish(run_date, scores, dims, run_id, hashes, steps, settings)
    steps["publish"] = round(time.perf_counter() - t0, 4)
    store.record_run(run_id, run_date, "published", hashes, steps, settings=settings)
    stage = storage.from_url(staged["staging"])
    storage.remove(stage, recursive=True)
    storage.remove_empty_parent(stage)
    return {"rows": counts, "seconds": steps["publish"]}


def run_status(run_id: str, settings: Settings | None = None) -> str | None:
    """The ``pipeline_runs`` status of one run attempt (None if it never got that far)."""
    df = store.read_sql("SELECT status FROM pipeline_runs WHERE run_id = :r", {"r": run_id}, settings)
    return None if df.empty else str(df["status"].iloc[0])


def alert(run_date: dt.date, run_id: str, settings: Settings | None = None) -> dict:
    """Evaluate the alert rules for ``run_date`` and deliver the digest (and any backlog)."""
    from .alerts import run_alerts

    return run_alerts(run_date, run_id, settings)


def cleanup(settings: Settings | None = None) -> dict:
    """Housekeeping of the storage root (see :func:`riskmodels.storage.cleanup`)."""
    return storage.cleanup(settings)


def run(run_date: dt.date, run_id: str | None = None, settings: Settings | None = None) -> dict:
    """Run the whole pipeline for one date in-process (what the DAG's tasks do, in order).

    Raises DataQualityError (bad input: quarantined and alerted), IngestError (a source could
    not be fetched) or PublishBusyError (another run held the store too long); in every case
    the scores published before stay as they were."""
    settings = settings or get_settings()
    run_id = run_id or f"cli__{run_date.isoformat()}__{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}"
    steps: dict[str, float] = {}
    refs: list[dict] = []
    try:
        t = time.perf_counter()
        refs = [ingest(name, run_date, settings) for name in datasets(settings)]
        steps["ingest"] = round(time.perf_counter() - t, 4)
        steps["validate"] = validate(refs, run_date, run_id=run_id, settings=settings)["seconds"]
        staged = score(refs, run_date, run_id, settings)
        steps["score"] = staged["seconds"]
        out = publish(staged, refs, run_date, run_id, steps, settings)
    except Exception as exc:
        from .validate import DataQualityError

        if isinstance(exc, DataQualityError):
            alert(run_date, run_id, settings)  # the failed dataset is itself an alert
        else:
            try:
                store.record_run(run_id, run_date, "failed", {r["dataset"]: r["sha256"] for r in refs}, steps,
                                 message=f"{type(exc).__name__}: {exc}", settings=settings)
            except store.StoreBusyError:  # the store is what failed: the original error says so
                log.warning("could not record the failed run %s: the store is locked", run_id)
        raise
    steps["publish"] = out["seconds"]
    alerted = alert(run_date, run_id, settings)
    try:
        cleaned = cleanup(settings)
    except Exception as exc:  # noqa: BLE001 - housekeeping never fails a published run
        log.warning("storage cleanup failed (the run itself published): %s", exc)
        cleaned = {"error": str(exc)}
    return {"alerts": alerted, "run_id": run_id, "run_date": run_date.isoformat(), "rows": out["rows"], "step_seconds": steps,
            "db_url": settings.db_url, "cleanup": cleaned}
