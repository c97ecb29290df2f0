"""One day of regulators' feeds: fetch each feed (conditional GET), parse, validate, match, store
the candidates (what the ``regulatory_feeds`` DAG runs).

* Every feed document is landed by the fetch-and-land client before anything parses it (raw bytes
  kept, content-addressed); a CMA entry's GOV.UK Content API document likewise.
* A document that is not a feed (an HTML error page, binary, cut before its first item) or whose
  items fail the ``feed_items`` suite is **quarantined**: a failed ``validation_results`` row naming
  the feed, the item (guid) and the column, so the daily digest reports it; none of its items is
  stored and the candidates found before stay. The other feeds load.
* Items are stored once per ``(feed, guid)`` in ``feed_items`` (also the ones a feed's ``keep_if``
  filter drops, marked ``kept = false``); a guid seen before is never matched again, so reruns are
  idempotent and a rejected candidate never resurfaces.
* A kept item naming at least one watched firm becomes a ``candidate_events`` row: the parties and
  the aliases that matched, the event rule and the words that fired it, and a suggested
  ``regulatory_events`` row. A candidate that ``regulatory_events`` already holds (same authority,
  within ``known_within_days``, a party in common) is stored as ``known``, not waiting for review.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import pandas as pd

from ...config import Settings, get_settings
from . import events_config
from .match import alias_table, classify, find_parties
from .parse import FeedFormatError, cma_slug, parse_cma_case, parse_feed

log = logging.getLogger(__name__)

#: the suite every feed's items are validated with (``expectations/feed_items.json``)
SUITE = "feed_items"
ITEM_COLUMNS = ["feed", "guid", "position", "title", "link", "summary", "published", "date"]


def candidate_id(prefix: str, *parts: str) -> str:
    """A stable candidate id: ``prefix`` + the first 10 hex digits of sha1 over ``parts`` (the
    same item gets the same id in every store, so reruns and other deployments agree)."""
    return prefix + hashlib.sha1("|".join(parts).encode()).hexdigest()[:10]


def dataset_frame(name: str, settings: Settings) -> pd.DataFrame:
    """A dataset of ``config/sources.yaml`` as parsed text (what ingest reads; no landing)."""
    from ...ingest import fetch, load_sources, parse

    spec = load_sources(settings)["datasets"][name]
    return parse(fetch(spec["location"], settings.home), {"dataset": name, "format": spec["format"],
                                                           "path": spec["location"], "location": spec["location"]})


def _record_failure(feed: str, sha: str, message: str, run_date: dt.date, settings: Settings,
                    column: str | None = None) -> None:
    from ... import store

    store.record_validation([{
        "run_date": run_date, "dataset": f"feed:{feed}", "sha256": sha, "suite": SUITE, "success": False,
        "evaluated": 1, "failed_critical": 1, "failed_warning": 0, "rows": 0, "mode": "parse", "gx_rows": 0,
        "data_docs": None, "details": json.dumps([{"dataset": f"feed:{feed}", "severity": "critical",
                                                   "expectation": "feed document parses", "column": column,
                                                   "unexpected_count": None, "message": message}])}], settings)


def items_frame(records: list[dict]) -> pd.DataFrame:
    """Parsed items as validation reads them (text cells; ``date`` = the published day, UTC)."""
    frame = pd.DataFrame(records, columns=ITEM_COLUMNS[:-1])
    frame["date"] = frame["published"].astype("string").str.slice(0, 10)
    frame["position"] = frame["position"].astype("string")
    return frame.astype(object).where(frame.notna(), None)


def keep_mask(frame: pd.DataFrame, patterns: list[str] | None) -> pd.Series:
    """Items a feed's ``keep_if`` patterns select (all items when the feed has none)."""
    if not patterns:
        return pd.Series(True, index=frame.index)
    text = frame["title"].fillna("") + " " + frame["summary"].fillna("")
    return pd.concat([text.str.contains(p, regex=True) for p in patterns], axis=1).any(axis=1)


def _case_text(case: dict) -> str:
    """The words of a CMA case document that classify it (type, state and outcome as GOV.UK
    writes them, hyphens as spaces: "mergers closed mergers phase 1 found not to qualify")."""
    bits = [case.get("case_type"), case.get("case_state"), case.get("outcome_type")]
    return " ".join(str(b).replace("-", " ") for b in bits if b)


def known_events(settings: Settings) -> pd.DataFrame:
    """``regulatory_events`` as the shipped dataset holds it plus the accepted candidates:
    ``date, authority, party_ids, ref``."""
    ev = dataset_frame("regulatory_events", settings)
    out = pd.DataFrame({"date": ev["date"], "authority": ev["authority"], "party_ids": ev["party_ids"],
                        "ref": "regulatory_events.csv row " + ev["ref_row"].astype(str)})
    from ... import store

    acc = store.read_sql("SELECT candidate_id, accepted FROM candidate_events WHERE status = 'accepted'",
                         settings=settings)
    if len(acc):
        rows = pd.DataFrame([json.loads(a) for a in acc["accepted"]])
        out = pd.concat([out, pd.DataFrame({"date": rows["date"], "authority": rows["authority"],
                                            "party_ids": rows["party_ids"],
                                            "ref": "candidate " + acc["candidate_id"]})], ignore_index=True)
    return out


def match_known(cands: pd.DataFrame, known: pd.DataFrame, days: int) -> pd.Series:
    """Per candidate: the ``ref`` of a known event of the same authority (either name contains
    the other, case-insensitive: "CMA" in "UK CMA") dated within ``days`` that names a party in
    common, else None."""
    if cands.empty or known.empty:
        return pd.Series([None] * len(cands), index=cands.index, dtype=object)
    from ...dates import date_end

    c = cands[["date", "authority", "party_ids"]].reset_index(names="ci")
    k = known.assign(kd=date_end(known["date"].astype(str)))
    c = c.assign(cd=pd.to_datetime(c["date"]), p=c["party_ids"].str.split(";")).explode("p")
    k = k.assign(p=k["party_ids"].fillna("").str.split(";")).explode("p")
    pairs = c.merge(k[["p", "kd", "authority", "ref"]], on="p", suffixes=("", "_k"))
    a, b = pairs["authority"].str.lower(), pairs["authority_k"].fillna("").str.lower()
    same = pd.Series([x in y or y in x for x, y in zip(a, b)], index=pairs.index, dtype=bool) & b.ne("")
    near = (pairs["cd"] - pairs["kd"]).abs() <= pd.Timedelta(days=days)
    hit = pairs[same & near].drop_duplicates("ci")
    return hit.set_index("ci")["ref"].reindex(range(len(cands))).set_axis(cands.index).astype(object)


def suggested_rows(cands: pd.DataFrame, feeds: dict, names: dict[str, str]) -> list[str]:
    """The ``regulatory_events`` row each candidate suggests (JSON), for the analyst to confirm or
    edit: date, parties, jurisdiction, authority, event type from the rule; outcome and status
    from a CMA case document when there is one."""
    out = []
    for r in cands.itertuples(index=False):
        feed = feeds[r.feed]
        parties = "; ".join(names.get(p, p) for p in r.party_ids.split(";"))
        out.append(json.dumps({
            "date": r.date, "party_ids": r.party_ids, "jurisdiction": feed["jurisdiction"],
            "authority": feed["authority"], "event_type": r.event_type or "regulatory announcement",
            "parties": parties, "description": r.title, "outcome": (r.outcome_type or "").replace("-", " ") or None,
            "status": r.case_state or None, "source": f"{feed['authority']} feed ({r.feed}): {r.title}",
            "source_url": r.link, "confidence": "reviewed"}))
    return out


def _fetch_case(item: dict, spec: dict, http, settings: Settings, run_date: dt.date) -> dict:
    """The CMA case document of one Atom entry (fields of :func:`parse_cma_case` and
    ``case_sha256``); ``case_error`` when it could not be fetched or read (the entry still
    becomes a candidate on its Atom text)."""
    from ..client import FetchError

    slug = cma_slug(item.get("link"))
    if not slug:
        return {"case_error": f"no CMA case slug in link {item.get('link')!r}"}
    url = spec["details"].format(slug=slug)
    try:
        resp = http.get(url, conditional=True)
    except FetchError as exc:
        return {"case_error": str(exc)}
    if not resp.ok and not resp.not_modified:
        return {"case_error": f"HTTP {resp.status} for {url}"}
    from ... import storage

    raw = resp.body if resp.body is not None else storage.from_url(resp.landing_path).read_bytes()
    try:
        return {**parse_cma_case(raw, f"{url} (sha256 {resp.sha256[:12]})"), "case_sha256": resp.sha256}
    except FeedFormatError as exc:
        _record_failure(f"cma-case:{slug}", resp.sha256, str(exc), run_date, settings)
        return {"case_error": str(exc)}


def load_feed(name: str, raw: bytes, sha: str, landing_path: str | None, run_date: dt.date,
              run_id: str | None, settings: Settings, http, table: pd.DataFrame, known: pd.DataFrame,
              names: dict[str, str]) -> dict:
    """Parse, validate, match and store one feed document. Returns ``{feed, sha256, status
    (loaded | quarantined), reason, items, new_items, candidates, known}``."""
    from ... import store
    from ...validate import validate_frame

    cfg = events_config(settings)
    spec = cfg["feeds"][name]
    out = {"feed": name, "sha256": sha, "status": "loaded", "reason": None, "items": 0, "new_items": 0,
           "candidates": 0, "known": 0}
    where = f"{spec['url']} (feed {name}, sha256 {sha[:12]})"
    try:
        records = parse_feed(raw, name, where)
    except FeedFormatError as exc:
        _record_failure(name, sha, str(exc), run_date, settings)
        log.warning("feed %s quarantined: %s", name, exc)
        return {**out, "status": "quarantined", "reason": str(exc)}
    bozo = next((r.pop("_bozo") for r in records if "_bozo" in r), None)
    frame = items_frame(records)
    res = validate_frame(frame, SUITE, run_date, run_id=run_id, settings=settings, location=f"feed:{name}",
                         key_column="guid",
                         extra_failures=[{"dataset": f"feed:{name}", "severity": "critical", "column": None,
                                          "expectation": "feed document is complete", "unexpected_count": None,
                                          "message": f"{where}: {bozo}"}] if bozo else None)
    if not res["success"]:
        bad = sorted(res["bad_keys"].items())
        reason = (f"{where}: " + "; ".join(f"item {k}: {why}" for k, why in bad[:5])
                  + (f" (and {len(bad) - 5} more items)" if len(bad) > 5 else "")) if bad else f"{where}: {bozo}"
        log.warning("feed %s quarantined: %s", name, reason)
        return {**out, "status": "quarantined", "reason": reason}
    seen = store.read_sql("SELECT guid FROM feed_items WHERE feed = :f", {"f": name}, settings)
    frame = frame.assign(kept=keep_mask(frame, spec.get("keep_if")).to_numpy())
    new = frame[~frame["guid"].isin(set(seen["guid"]))].reset_index(drop=True)
    out.update(items=int(len(frame)), new_items=int(len(new)))
    if new.empty:
        return out
    cases = pd.DataFrame([_fetch_case(r, spec, http, settings, run_date) if (spec.get("details") and r["kept"]) else {}
                          for r in new.to_dict("records")], index=new.index)
    for col in ("title", "description", "case_type", "case_state", "market_sector", "outcome_type",
                "opened_date", "closed_date", "case_sha256", "case_error"):
        if col not in cases:
            cases[col] = None
    cases = cases.drop(columns=["title", "description"]).assign(
        case_text=[_case_text(c) for c in cases.to_dict("records")])
    new = pd.concat([new, cases], axis=1)
    new = new.assign(document_sha256=sha, landing_path=landing_path, first_run_date=run_date, feed_format=spec["format"])
    texts = new["title"].fillna("") + " \n " + new["summary"].fillna("")
    parties = find_parties(texts, table)
    rules = classify([new["case_text"], new["title"], new["summary"]], cfg["event_rules"])
    cand = pd.concat([new, parties, rules], axis=1)
    cand = cand[cand["kept"].astype(bool) & cand["party_ids"].notna()].reset_index(drop=True)
    rows = []
    if len(cand):
        cand = cand.astype(object).where(cand.notna(), None)
        cand = cand.assign(authority=cand["feed"].map({k: v["authority"] for k, v in cfg["feeds"].items()}),
                           jurisdiction=cand["feed"].map({k: v["jurisdiction"] for k, v in cfg["feeds"].items()}))
        ref = match_known(cand, known, int(cfg["known_within_days"]))
        cand = cand.assign(known_as=ref.to_numpy(), suggested=suggested_rows(cand, cfg["feeds"], names),
                           candidate_id=[candidate_id("E", f, g) for f, g in zip(cand["feed"], cand["guid"])])
        cand["status"] = cand["known_as"].map(lambda x: "pending" if x is None or pd.isna(x) else "known")
        cand["created_run_date"] = run_date
        cand["evidence"] = cand["title"].fillna("") + " | " + cand["summary"].fillna("").str.slice(0, 600)
        rows = cand.to_dict("records")
    store.publish_feed(new, rows, settings)
    out.update(candidates=len(rows), known=int(sum(r["status"] == "known" for r in rows)))
    return out


def run_day(run_date: dt.date, run_id: str | None = None, settings: Settings | None = None, http=None) -> dict:
    """Fetch every feed of ``config/events.yaml`` and store the new items and candidates.
    Returns ``{"run_date", "feeds": [...], "candidates": n new, "pending": n waiting for review,
    "quarantined": [...]}``. Raises :class:`~riskmodels.sources.client.FetchError` when a feed
    stayed unreachable (after loading the others)."""
    from ... import storage, store
    from ..client import FetchError
    from . import client

    settings = settings or get_settings()
    store.get_engine(settings)
    cfg = events_config(settings)
    http = http or client(settings)
    entities = dataset_frame("entities", settings)
    aliases = pd.read_csv(settings.home / "data" / "entity_aliases.csv", dtype=str, keep_default_na=False)
    table = alias_table(entities, aliases, cfg)
    names = dict(zip(entities["entity_id"], entities["name"]))
    known = known_events(settings)
    out, failures = [], []
    for name, spec in cfg["feeds"].items():
        try:
            resp = http.get(spec["url"], conditional=True)
        except FetchError as exc:
            failures.append(f"{name}: {exc}")
            continue
        if not resp.ok and not resp.not_modified:
            body = resp.body or b""
            if body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
                _record_failure(name, resp.sha256, f"{spec['url']} (feed {name}): HTTP {resp.status} with an HTML "
                                f"error page where an RSS/Atom feed was declared", run_date, settings)
                out.append({"feed": name, "sha256": resp.sha256, "status": "quarantined",
                            "reason": f"HTTP {resp.status} (HTML error page)"})
                continue
            failures.append(f"{name}: HTTP {resp.status} for {spec['url']}")
            continue
        raw = resp.body if resp.body is not None else storage.from_url(resp.landing_path).read_bytes()
        out.append(load_feed(name, raw, resp.sha256, resp.landing_path, run_date, run_id, settings, http, table,
                             known, names))
    summary = {"run_date": run_date.isoformat(), "feeds": out,
               "candidates": int(sum(f.get("candidates", 0) for f in out)),
               "pending": store_pending(settings),
               "quarantined": [{"feed": f["feed"], "sha256": f["sha256"], "reason": f["reason"]}
                               for f in out if f["status"] == "quarantined"]}
    if failures:
        raise FetchError(f"feeds run {run_date}: {len(failures)} feed(s) could not be fetched (the rest loaded): "
                         + "; ".join(failures))
    return summary


def run_all(run_date: dt.date, run_id: str | None = None, settings: Settings | None = None, http=None) -> dict:
    """The feeds (:func:`run_day`), then the 8-Ks of watched issuers the SEC source listed
    (:func:`.eightk.run_day`): the summary of both (``deals``: the 8-K part). An unreachable feed
    raises after the 8-Ks are read too."""
    from ..client import FetchError
    from . import eightk

    settings = settings or get_settings()
    error = None
    try:
        summary = run_day(run_date, run_id, settings, http)
    except FetchError as exc:
        error, summary = exc, None
    deals = eightk.run_day(run_date, settings, http)
    if error is not None:
        raise error
    summary["deals"] = deals
    summary["pending"] = int(store_pending(settings))
    return summary


def store_pending(settings: Settings) -> int:
    """Candidates waiting for review (events and deals)."""
    from ... import store

    n = store.read_sql("SELECT COUNT(*) AS n FROM candidate_events WHERE status = 'pending'", settings=settings)
    return int(n["n"].iloc[0]) + pending_deals(settings)


def pending_deals(settings: Settings) -> int:
    from ... import store

    return int(store.read_sql("SELECT COUNT(*) AS n FROM candidate_deals WHERE status = 'pending'",
                              settings=settings)["n"].iloc[0])

