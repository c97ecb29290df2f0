"""One day of SEC EDGAR: discover -> fetch -> parse -> validate -> publish (the ``sec_filings`` DAG;
``riskmodels sec run --date D``).

* **discover**: per watched CIK the submissions JSON (filings by it and about it as subject
  company; conditional GET), the latest-filings Atom feed per form type, the configured seeds and,
  in replay mode, the recorded samples; accessions already in ``sec_filings`` are skipped, so a
  day fetches only what is new. ``backfill=True`` also pages ``filings.files[]`` and reads the
  quarterly ``full-index/{yyyy}/QTR{n}/form.idx`` back to ``backfill_from``.
* **fetch**: every document through the one client (landed before it is parsed).
* **parse**: :func:`riskmodels.sources.sec.detect.parse_bytes` (13D/13G, 13F, inline XBRL).
* **validate**: the day's rows of each fact table through its GX suite
  (``expectations/sec_*.json``); a filing with a failing row, or that does not parse, is
  quarantined alone with its accession and reason; the others publish.
* **publish**: one transaction: each filing's fact rows replaced, its ``sec_filings`` row written.

Rerunning a day fetches nothing already processed (its submissions JSON answers 304) and writes
identical rows.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re

import pandas as pd

from ...config import Settings, get_settings
from . import Urls, client as sec_client, mode, sec_config
from .detect import UnknownDocument, parse_bytes

log = logging.getLogger(__name__)

KIND_OF_FORM = (("13F-HR", "13f"), ("SCHEDULE 13D", "13d"), ("SC 13D", "13d"), ("SCHEDULE 13G", "13g"),
                ("SC 13G", "13g"), ("10-K", "xbrl"), ("10-Q", "xbrl"), ("8-K", "event"))
TABLE_OF_KIND = {"13d": "sec_stakes", "13g": "sec_stakes", "13f": "sec_holdings", "xbrl": "sec_segment_revenue"}
SHARES_CONCEPTS = ("dei:EntityCommonStockSharesOutstanding", "us-gaap:CommonStockSharesOutstanding")
VIA_RANK = {"submissions": 0, "backfill": 1, "seed": 2, "atom": 3, "sample": 4}


def kind_of(form: str) -> str | None:
    f = (form or "").upper()
    for prefix, kind in KIND_OF_FORM:
        if f == prefix or f.startswith(prefix + "/") or (prefix == "13F-HR" and f.startswith("13F-HR")):
            return kind
    return None


def watched(settings: Settings | None = None) -> pd.DataFrame:
    """Watched entities with their CIK (``config/sec.yaml`` ``watch``; CIKs from data/entities.csv):
    columns entity_id, cik, role (issuer | filer)."""
    settings = settings or get_settings()
    cfg = sec_config(settings)
    ent = pd.read_csv(settings.home / "data" / "entities.csv", dtype=str, keep_default_na=False)
    rows = [{"entity_id": e, "role": role} for role in ("issuers", "filers") for e in cfg["watch"].get(role, [])]
    out = pd.DataFrame(rows).merge(ent[["entity_id", "cik"]], on="entity_id", how="left")
    missing = out[out["cik"].fillna("") == ""]
    if len(missing):
        log.warning("watched entities without a CIK (not followed): %s", ", ".join(missing["entity_id"]))
    return out[out["cik"].fillna("") != ""].assign(role=lambda d: d["role"].str.rstrip("s")).reset_index(drop=True)


def _wanted_forms(cfg: dict) -> set[str]:
    return {f.upper() for group in cfg["forms"].values() for f in group}


def _parse_form_idx(text: str) -> list[dict]:
    """EDGAR's full-index ``form.idx`` (fixed-width after a dashed rule): form, name, CIK, date, file."""
    out, body = [], text.split("\n-----", 1)
    for line in (body[1].split("\n")[1:] if len(body) > 1 else []):
        m = re.match(r"^(?P<form>.+?)\s{2,}(?P<name>.+?)\s{2,}(?P<cik>\d{1,10})\s+(?P<date>\d{4}-\d{2}-\d{2})\s+"
                     r"(?P<file>edgar/\S+)\s*$", line.rstrip())
        if m:
            acc = m["file"].rsplit("/", 1)[-1].removesuffix(".txt")
            out.append({"form": m["form"].strip(), "cik": str(int(m["cik"])), "filed": m["date"], "accession": acc})
    return out


def discover(run_date: dt.date, settings: Settings | None = None, http=None, backfill: bool = False,
             backfill_from: dt.date | None = None) -> dict:
    """Candidate filings for ``run_date``: ``{"candidates": [...], "sources": [...], "problems": [...]}``.

    A candidate is ``{accession, cik, form, kind, filed, accepted_at, primary_document, url,
    items, discovered_via}``; filings dated after ``run_date`` are never taken (a backfill of an
    old date stays honest); daily discovery looks back ``daily_lookback_days``."""
    from ...sources.client import FetchError
    from .feeds import FeedError, parse_atom, parse_submissions, submissions_records

    settings = settings or get_settings()
    cfg = sec_config(settings)
    http = http or sec_client(settings)
    urls = Urls(settings)
    wanted = _wanted_forms(cfg)
    oldest = (backfill_from or dt.date(1994, 1, 1)) if backfill else run_date - dt.timedelta(
        days=int(cfg["daily_lookback_days"]))
    watch = watched(settings)
    ciks = set(watch["cik"])
    found: dict[str, dict] = {}
    sources, problems = [], []

    def take(rec: dict, via: str) -> None:
        form = (rec.get("form") or "").upper()
        filed = rec.get("filed")
        if form not in wanted or not filed or not re.match(r"^\d{10}-\d{2}-\d{6}$", rec.get("accession") or ""):
            return
        day = dt.date.fromisoformat(filed[:10])
        if day > run_date or (day < oldest and via != "seed"):
            return
        rec = {"accession": rec["accession"], "cik": rec.get("cik"), "form": rec["form"], "kind": kind_of(form),
               "filed": filed[:10], "accepted_at": rec.get("accepted_at"), "primary_document": rec.get("primary_document"),
               "url": rec.get("url"), "items": rec.get("items"), "discovered_via": via}
        old = found.get(rec["accession"])
        if old is None or VIA_RANK[via] < VIA_RANK[old["discovered_via"]]:
            found[rec["accession"]] = {**(old or {}), **{k: v for k, v in rec.items() if v is not None}}

    def get(url: str, conditional: bool = False):
        try:
            resp = http.get(url, conditional=conditional)
        except FetchError as exc:
            problems.append({"url": url, "problem": str(exc)})
            return None
        sources.append({"url": url, "status": resp.status, "sha256": resp.sha256, "not_modified": resp.not_modified})
        if not resp.ok:
            problems.append({"url": url, "problem": f"HTTP {resp.status}"})
            return None
        return resp

    for cik in sorted(ciks, key=int):
        resp = get(urls.submissions(cik), conditional=True)
        if resp is None:
            continue
        try:
            sub = parse_submissions(resp.body)
        except FeedError as exc:
            problems.append({"url": resp.url, "problem": str(exc)})
            continue
        records = sub["records"]
        if backfill:
            for page in sub["pages"]:
                presp = get(urls.submissions(cik, page))
                if presp is not None:
                    try:
                        records += submissions_records(json.loads(presp.body), sub["cik"])
                    except (ValueError, FeedError) as exc:
                        problems.append({"url": presp.url, "problem": str(exc)})
        for r in records:
            take({**r, "filed": r["filing_date"]}, "submissions")
    for form_type in cfg["atom_types"]:
        for page in range(int(cfg.get("atom_pages", 1))):
            resp = get(urls.getcurrent(form_type, start=100 * page))
            if resp is None:
                break
            try:
                entries = parse_atom(resp.body)["records"]
            except FeedError as exc:
                problems.append({"url": resp.url, "problem": str(exc)})
                break
            # an entry concerns a watched CIK in any role (Filer, Subject, Reporting, Issuer)
            hit = {e["accession"] for e in entries if e["cik"] in ciks}
            for e in entries:
                if e["accession"] in hit and e["role"] in ("Filer", "Subject", "Issuer") or (
                        e["accession"] in hit and e["cik"] in ciks):
                    take({**e, "filed": (e["updated"] or "")[:10]}, "atom")
    if backfill:
        start = max(oldest, dt.date(1994, 1, 1))
        quarters = sorted({(d.year, (d.month - 1) // 3 + 1) for d in pd.date_range(start, run_date, freq="MS").date}
                          | {(run_date.year, (run_date.month - 1) // 3 + 1)})
        for year, q in quarters:
            resp = get(urls.full_index(year, q))
            if resp is None:
                continue
            for r in _parse_form_idx(resp.body.decode("latin-1")):
                if r["cik"] in ciks:
                    take(r, "backfill")
    for seed in cfg.get("seeds", []):
        take({"accession": str(seed["accession"]), "cik": str(seed["cik"]), "form": seed["form"],
              "filed": str(seed["filed"]), "url": seed["url"]}, "seed")
    return {"candidates": sorted(found.values(), key=lambda c: (c["filed"], c["accession"])),
            "sources": sources, "problems": problems}


def document_url(c: dict, urls: Urls) -> str | None:
    """Where a candidate's parseable document is: the full submission for 13F (and for a legacy
    13D/G without a primary document), the raw primary document otherwise; None for an 8-K (kept
    as an event, not parsed)."""
    if c.get("url"):
        return c["url"]
    kind, cik, acc = c["kind"], c["cik"], c["accession"]
    if kind == "13f":
        return urls.full_submission(cik, acc)
    if kind in ("13d", "13g"):
        if c.get("primary_document"):
            return urls.document(cik, acc, c["primary_document"])
        return (urls.document(cik, acc, "primary_doc.xml") if c["form"].upper().startswith("SCHEDULE")
                else urls.full_submission(cik, acc))
    if kind == "xbrl":
        return urls.document(cik, acc, c["primary_document"]) if c.get("primary_document") else None
    return None


# --------------------------------------------------------------------------- parsed -> fact rows
def _filing(parsed: dict, c: dict, url: str | None, sha: str) -> dict:
    return {"accession": c["accession"], "form": c["form"], "filing_url": url,
            "filed": parsed.get("filed") or c.get("filed"), "accepted_at": parsed.get("accepted_at") or c.get("accepted_at"),
            "source_sha256": sha}


def fact_frames(parsed: dict, c: dict, url: str | None, sha: str) -> dict[str, pd.DataFrame]:
    """The fact-table rows of one parsed filing (columns of :mod:`riskmodels.store`'s ``sec_*``)."""
    kind, base = parsed["kind"], _filing(parsed, c, url, sha)
    recs = parsed["records"]
    if kind in ("13d", "13g"):
        df = pd.DataFrame(recs)
        if df.empty:
            return {"sec_stakes": df}
        out = pd.DataFrame({
            "accession": base["accession"], "person_no": range(1, len(df) + 1),
            "amendment_no": pd.array([parsed.get("amendment_no")] * len(df), dtype="Int64"), "event_date": parsed.get("event_date"),
            "issuer_cik": parsed.get("issuer_cik"), "issuer_cusip": parsed.get("issuer_cusip"),
            "issuer_name": parsed.get("issuer_name"), "reporting_person": df["reporting_person"],
            "reporting_person_cik": df.get("reporting_person_cik"), "percent_of_class": df["percent_of_class"],
            "shares": df["shares"], "sole_voting": df["sole_voting"], "shared_voting": df["shared_voting"],
            "sole_dispositive": df.get("sole_dispositive"), "shared_dispositive": df.get("shared_dispositive"),
            "group_percent_of_class": parsed.get("group_percent_of_class"), "is_exit": bool(parsed.get("is_exit")),
            **{k: v for k, v in base.items() if k != "accession"}})
        return {"sec_stakes": out}
    if kind == "13f":
        df = pd.DataFrame(recs)
        if df.empty:
            return {"sec_holdings": df}
        out = df.assign(accession=base["accession"], line=range(len(df)), holder_name=parsed.get("holder_name"),
                        report_type=parsed.get("report_type"), amendment_type=parsed.get("amendment_type"),
                        unit_evidence=parsed.get("unit_evidence"),
                        **{k: v for k, v in base.items() if k != "accession"})
        out["holder_cik"] = out["holder_cik"].fillna(c.get("cik"))
        return {"sec_holdings": out}
    if kind == "xbrl":
        df = pd.DataFrame(recs)
        cik = parsed.get("cik") or c.get("cik")
        frames = {}
        if df.empty:
            return {"sec_segment_revenue": df}
        seg = _segments_config()
        concepts = set(seg["concepts"]) | set((seg.get("margin_concepts") or {}).values())
        rev = df[df["concept"].isin(concepts) & df["period_start"].notna() & df["value_usd"].notna()]
        frames["sec_segment_revenue"] = pd.DataFrame({
            "accession": base["accession"], "concept": rev["concept"],
            # "axis=member;..." as the parser gives it (sorted); "consolidated" for no dimensions
            "dimensions": rev["dimensions"].fillna("consolidated"),
            "period_start": rev["period_start"], "period_end": rev["period_end"], "cik": cik,
            "axis": rev["axis"], "member": rev["member"], "duration_months": rev["duration_months"].astype("Int64"),
            "value_usd": rev["value_usd"], **{k: v for k, v in base.items() if k != "accession"}})
        so = df[df["concept"].isin(SHARES_CONCEPTS) & df["period_start"].isna()]
        frames["sec_shares_outstanding"] = pd.DataFrame({
            "accession": base["accession"], "concept": so["concept"], "security_class": so["member"].fillna("all"),
            "as_of": so["period_end"], "cik": cik, "shares": so["value"], "origin": "inline",
            **{k: v for k, v in base.items() if k != "accession"}})
        return frames
    if kind == "companyfacts":
        df = pd.DataFrame(recs)
        so = df[df["concept"].isin(SHARES_CONCEPTS) & df["accession"].notna()] if len(df) else df
        if so.empty:
            return {"sec_shares_outstanding": pd.DataFrame()}
        so = so.drop_duplicates(["concept", "accession", "period_end", "value"])
        # companyfacts has no dimensions: several cover-page values for one (accession, date) are
        # the classes; kept as class-1..n and summed by the model
        n = so.groupby(["concept", "accession", "period_end"]).cumcount() + 1
        many = so.groupby(["concept", "accession", "period_end"])["value"].transform("size") > 1
        so = so.assign(security_class=("class-" + n.astype(str)).where(many, "all"))
        return {"sec_shares_outstanding": pd.DataFrame({
            "accession": so["accession"], "concept": so["concept"], "security_class": so["security_class"],
            "as_of": so["period_end"], "cik": parsed.get("cik"), "shares": so["value"], "origin": "companyfacts",
            "form": so["form"], "filing_url": url, "filed": so["filed"], "accepted_at": None, "source_sha256": sha})}
    raise UnknownDocument(f"a {kind} document where a filing's own document was expected")


def _segments_config() -> dict:
    from ...config import load_yaml

    return load_yaml(get_settings().home / "config" / "segments.yaml")


# --------------------------------------------------------------------------- validate and publish
def _sample_candidates(settings: Settings) -> list[dict]:
    """Recorded documents without an EDGAR address (replay mode only; ``replay_samples``)."""
    out = []
    for s in sec_config(settings).get("replay_samples", []):
        out.append({"accession": None, "cik": None, "form": s["form"], "kind": kind_of(s["form"]), "filed": None,
                    "accepted_at": None, "primary_document": None, "url": None, "items": None,
                    "discovered_via": "sample", "path": s["path"]})
    return out


def validate_facts(frames: dict[str, pd.DataFrame], run_date: dt.date, run_id: str | None,
                   settings: Settings) -> dict[str, dict[str, str]]:
    """Each fact table's rows of the day through its suite (GX; every row also through the
    vectorised checks, to name the failing rows); one ``validation_results`` row per table.
    Returns ``{table: {accession: reason}}`` for the filings to quarantine."""
    from ...validate import validate_frame

    bad: dict[str, dict[str, str]] = {}
    for table, frame in frames.items():
        if frame.empty:
            continue
        res = validate_frame(frame, table, run_date, run_id=run_id, settings=settings,
                             location=f"sec:{table}", key_column="accession")
        bad[table] = res["bad_keys"]
    return bad


def _text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Parsed values as validation reads them (text cells; numbers and dates in their ISO form)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == bool:
            continue
        if isinstance(out[col].dtype, pd.Int64Dtype):
            out[col] = out[col].astype("string").astype(object).where(out[col].notna(), None)
            continue
        out[col] = out[col].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else
                                (repr(v) if isinstance(v, float) else str(v)) if not isinstance(v, bool) else v)
    return out


def _record_filing_outcomes(filings: list[dict], run_date: dt.date, settings: Settings) -> None:
    """One ``validation_results`` row (dataset ``sec_filings``) for the day's filings: failed when
    any was quarantined, each named by accession and reason (the digest's validation rule lists
    them); written on every run so a clean day resolves yesterday's alert."""
    import hashlib

    from ... import store

    bad = [f for f in filings if f["status"] == "quarantined"]
    details = [{"dataset": "sec_filings", "severity": "critical", "expectation": "filing parses and validates",
                "column": None, "unexpected_count": 1, "accession": f["accession"], "url": f["url"],
                "message": f"filing {f['accession']} ({f['form']}) quarantined: {f['reason']}"} for f in bad]
    key = json.dumps(sorted((f["accession"], f["status"]) for f in filings)).encode()
    store.record_validation([{"run_date": run_date, "dataset": "sec_filings", "sha256": hashlib.sha256(key).hexdigest(),
                              "suite": "sec_filings", "success": not bad, "evaluated": len(filings),
                              "failed_critical": len(bad), "failed_warning": 0, "rows": len(filings),
                              "details": json.dumps(details, default=str), "data_docs": None, "mode": "parse",
                              "gx_rows": 0}], settings)


def discover_new(run_date: dt.date, settings: Settings | None = None, backfill: bool = False,
                 backfill_from: dt.date | None = None, http=None) -> dict:
    """Step 1: the candidates not yet in ``sec_filings`` (plus, in replay mode, the recorded
    samples) and the watched issuers' companyfacts: ``{"candidates", "problems", "sources"}``."""
    from ... import store

    settings = settings or get_settings()
    store.get_engine(settings)
    disc = discover(run_date, settings, http, backfill=backfill, backfill_from=backfill_from)
    done = set(store.read_sql("SELECT accession FROM sec_filings", settings=settings)["accession"])
    new = [c for c in disc["candidates"] if c["accession"] not in done]
    if mode(settings) == "replay":
        new += _sample_candidates(settings)
    if sec_config(settings).get("companyfacts"):
        urls = Urls(settings)
        new += [{"accession": None, "cik": cik, "form": "companyfacts", "kind": "companyfacts", "filed": None,
                 "accepted_at": None, "primary_document": None, "url": urls.companyfacts(cik), "items": None,
                 "discovered_via": "companyfacts"}
                for cik in sorted(set(watched(settings).query("role == 'issuer'")["cik"]), key=int)]
    return {"candidates": new, "problems": disc["problems"], "sources": len(disc["sources"]),
            "found": len(disc["candidates"])}


def fetch_documents(candidates: list[dict], settings: Settings | None = None, http=None) -> dict:
    """Step 2: land each candidate's document (through the client; a recorded sample from
    ``data/recorded``). Returns ``{"fetched": [candidate + url, sha256, landing_path, status,
    reason]}`` (status ``fetched``, ``unavailable``, ``listed`` or ``not_modified``) and
    ``fetch_failures`` (unreachable past the retries: left for the next run)."""
    from ...ingest import land_bytes
    from ...sources.client import FetchError

    settings = settings or get_settings()
    http = http or sec_client(settings)
    urls = Urls(settings)
    out, failures = [], []
    for c in candidates:
        c = dict(c)
        if c["kind"] in ("event", None):
            out.append({**c, "status": "listed", "reason": "8-K: kept as an event (items) and not parsed"})
            continue
        if c["discovered_via"] == "sample":
            raw = (settings.home / "data" / "recorded" / "sec" / c["path"]).read_bytes()
            sha, landed = land_bytes(raw, c["path"].rsplit(".", 1)[-1], settings)
            out.append({**c, "status": "fetched", "sha256": sha, "landing_path": str(landed), "url": None})
            continue
        url = document_url(c, urls)
        if url is None:
            out.append({**c, "status": "unavailable", "reason": "no primary document named by discovery"})
            continue
        try:
            resp = http.get(url, conditional=c["kind"] == "companyfacts")
        except FetchError as exc:
            failures.append({"accession": c["accession"], "url": url, "problem": str(exc)})
            continue
        if resp.not_modified:
            out.append({**c, "status": "not_modified", "url": url})
        elif not resp.ok:
            out.append({**c, "status": "unavailable", "reason": f"HTTP {resp.status} for {url}", "url": url,
                        "sha256": resp.sha256})
        else:
            out.append({**c, "status": "fetched", "url": url, "sha256": resp.sha256, "landing_path": resp.landing_path})
    return {"fetched": out, "fetch_failures": failures}


def load_documents(fetched: list[dict], run_date: dt.date, run_id: str | None = None,
                   settings: Settings | None = None) -> dict:
    """Step 3: parse the landed documents (read back from the storage root, so any worker can
    run this), validate the day's fact rows, quarantine failing filings, publish the rest in one
    transaction and record every filing's outcome. Returns the JSON-able summary."""
    from ... import storage, store

    settings = settings or get_settings()
    run_id = run_id or f"sec__{run_date.isoformat()}__{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}"
    done = set(store.read_sql("SELECT accession FROM sec_filings", settings=settings)["accession"])
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    filings, parsed_frames = [], {}

    def filing_row(c, status, reason=None, records=None):
        return {"accession": c["accession"], "cik": c.get("cik"), "form": c["form"], "kind": c.get("kind"),
                "filed": c.get("filed"), "accepted_at": c.get("accepted_at"), "url": c.get("url"),
                "discovered_via": c["discovered_via"], "items": c.get("items"), "status": status, "reason": reason,
                "sha256": c.get("sha256"), "records": records, "run_date": run_date, "processed_at": now}

    for c in fetched:
        if c["status"] == "not_modified":
            continue
        if c["status"] in ("listed", "unavailable"):
            if c["accession"] is not None:
                filings.append(filing_row(c, c["status"], c.get("reason")))
            continue
        raw = storage.from_url(c["landing_path"]).read_bytes()
        try:
            parsed = parse_bytes(raw)
            expected = ("companyfacts",) if c["kind"] == "companyfacts" else ("13d", "13g", "13f", "xbrl")
            if parsed["kind"] not in expected:
                raise UnknownDocument(f"a {parsed['kind']} document where {' or '.join(expected)} was expected")
            if c["kind"] != "companyfacts" and c["accession"] is None:  # a recorded sample
                c = {**c, "accession": parsed.get("accession") or f"sample-{c['sha256'][:12]}",
                     "filed": parsed.get("filed"), "accepted_at": parsed.get("accepted_at"),
                     "cik": parsed.get("holder_cik") or parsed.get("cik") or parsed.get("issuer_cik")}
                if c["accession"] in done:
                    continue
            frames = fact_frames(parsed, c, c.get("url"), c["sha256"])
        except (UnknownDocument, KeyError, ValueError, TypeError) as exc:
            where = c.get("url") or c.get("path")
            if c["kind"] == "companyfacts":
                log.warning("companyfacts %s does not parse: %s", where, exc)
                continue
            acc = c["accession"] or f"sample-{c['sha256'][:12]}"
            filings.append(filing_row({**c, "accession": acc}, "quarantined", f"does not parse ({where}): {exc}"))
            continue
        if c["kind"] != "companyfacts":
            filings.append(filing_row(c, "published", None, sum(len(f) for f in frames.values())))
        for table, frame in frames.items():
            if len(frame):
                parsed_frames.setdefault(table, []).append(frame)
    day = {t: pd.concat(fs, ignore_index=True) for t, fs in parsed_frames.items()}
    bad = validate_facts({t: _text_frame(f) for t, f in day.items()}, run_date, run_id, settings)
    quarantined: dict[str, list[str]] = {}
    for table, keys in bad.items():
        for acc, reason in keys.items():
            quarantined.setdefault(acc, []).append(f"{table}: {reason}")
    for f in filings:
        if f["accession"] in quarantined:
            f.update(status="quarantined", reason="; ".join(quarantined[f["accession"]]), records=0)
    # a companyfacts row that fails quarantines that row's accession only (its facts are per filing)
    day = {t: f[~f["accession"].isin(set(quarantined))] for t, f in day.items()}
    counts = store.publish_sec(filings, day, settings)
    _record_filing_outcomes(filings, run_date, settings)
    return {"run_date": run_date.isoformat(), "run_id": run_id, "mode": mode(settings), "new": len(filings),
            "by_status": pd.Series([f["status"] for f in filings], dtype=object).value_counts().to_dict(),
            "quarantined": [{"accession": f["accession"], "reason": f["reason"]} for f in filings
                            if f["status"] == "quarantined"], "rows": counts}


def run_day(run_date: dt.date, run_id: str | None = None, settings: Settings | None = None,
            backfill: bool = False, backfill_from: dt.date | None = None, http=None) -> dict:
    """Discover, fetch, parse, validate and publish one day's SEC filings in-process (what the
    ``sec_filings`` DAG's tasks do, in order). Returns a JSON-able summary (found, new,
    by_status, quarantined, rows per table, problems, fetch_failures, seconds).

    Raises :class:`~riskmodels.sources.client.FetchError` after publishing everything else when a
    document stayed unreachable (429/5xx/timeouts past the retries): the next run fetches only
    what is still missing."""
    import time

    from ...sources.client import FetchError

    settings = settings or get_settings()
    t0 = time.perf_counter()
    http = http or sec_client(settings)
    disc = discover_new(run_date, settings, backfill, backfill_from, http)
    got = fetch_documents(disc["candidates"], settings, http)
    summary = load_documents(got["fetched"], run_date, run_id, settings)
    summary.update(found=disc["found"], problems=disc["problems"], fetch_failures=got["fetch_failures"],
                   seconds=round(time.perf_counter() - t0, 3))
    if got["fetch_failures"]:
        raise FetchError(f"SEC run {run_date}: {len(got['fetch_failures'])} document(s) could not be fetched "
                         f"(the rest published; the next run fetches only these): "
                         + "; ".join(f"{x['url']}: {x['problem']}" for x in got["fetch_failures"][:5]))
    return summary
