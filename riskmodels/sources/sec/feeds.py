"""Discovery documents: the data.sec.gov submissions JSON and EDGAR's latest-filings Atom feed.

Records (``riskmodels sec parse``):

* submissions: ``cik, accession, form, filing_date, report_date, accepted_at, items,
  primary_document`` per filing of ``filings.recent`` (columnar arrays zipped; older pages are
  named in ``filings.files``);
* atom: ``accession, form, cik, company_name, role, updated`` per accession and role (the same
  accession appears once as Reporting/Filer and once as Issuer/Subject).
"""
from __future__ import annotations

import json
import re

from . import ACCESSION_RE

SUBMISSION_FIELDS = {"accessionNumber": "accession", "form": "form", "filingDate": "filing_date",
                     "reportDate": "report_date", "acceptanceDateTime": "accepted_at", "items": "items",
                     "primaryDocument": "primary_document"}


class FeedError(ValueError):
    """A discovery document is not what it claims to be."""


def parse_submissions(raw: bytes | str) -> dict:
    """``{"cik", "name", "records": [...], "pages": [older page names]}``; empty strings are null."""
    try:
        doc = json.loads(raw)
        recent = doc["filings"]["recent"]
        cik = str(int(doc["cik"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise FeedError(f"not a submissions JSON: {exc}") from exc
    return {"cik": cik, "name": doc.get("name"), "records": submissions_records(recent, cik),
            "pages": [f["name"] for f in doc["filings"].get("files", [])]}


def submissions_records(columns: dict, cik: str) -> list[dict]:
    """The columnar arrays of ``filings.recent`` (or of an older page) as one record per filing."""
    n = len(columns.get("accessionNumber", []))
    for key in SUBMISSION_FIELDS:
        if key in columns and len(columns[key]) != n:
            raise FeedError(f"submissions arrays differ in length ({key}: {len(columns[key])} vs {n})")
    out = []
    for i in range(n):
        rec = {"cik": cik}
        for key, name in SUBMISSION_FIELDS.items():
            v = columns.get(key, [None] * n)[i]
            rec[name] = v if v not in ("", None) else None
        if rec["accepted_at"]:
            rec["accepted_at"] = rec["accepted_at"].replace(".000Z", "Z")
        out.append(rec)
    return out


TITLE_RE = re.compile(r"^(?P<form>.+?) - (?P<name>.*) \((?P<cik>\d{1,10})\) \((?P<role>[^)]+)\)\s*$")


def parse_atom(raw: bytes | str) -> dict:
    """Entries of a latest-filings Atom page (feedparser), one record per accession and role."""
    import feedparser

    feed = feedparser.parse(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    if feed.bozo and not feed.entries:
        raise FeedError(f"not an Atom feed: {feed.bozo_exception}")
    out, seen = [], set()
    for e in feed.entries:
        acc = (e.get("id") or "").rsplit("=", 1)[-1]
        m = TITLE_RE.match(e.get("title") or "")
        if not ACCESSION_RE.match(acc) or not m:
            continue
        rec = {"accession": acc, "form": (e.get("tags") or [{}])[0].get("term") or m["form"],
               "cik": str(int(m["cik"])), "company_name": m["name"], "role": m["role"],
               "updated": e.get("updated"), "link": e.get("link")}
        key = (acc, rec["role"], rec["cik"])
        if key not in seen:
            seen.add(key)
            out.append(rec)
    return {"title": feed.feed.get("title"), "records": out}
