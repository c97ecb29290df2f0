"""What an EDGAR document is, and its normalised records (``riskmodels sec parse PATH``).

Kinds: ``13f``, ``13d``, ``13g``, ``xbrl``, ``companyfacts``, ``submissions``, ``atom``. A file is
accepted as EDGAR serves it or a user saves it: gzip-compressed or not, a full SGML submission
(``.txt`` or the feed's ``.nc``) or the document alone.
"""
from __future__ import annotations

import gzip
import io
import math
import re
import zipfile

from . import feeds, form13f, forms13dg, xbrl

KINDS = ("13f", "13d", "13g", "xbrl", "companyfacts", "submissions", "atom")


class UnknownDocument(ValueError):
    """The bytes are not an EDGAR document this project reads (or do not parse as their kind)."""


def sgml_header(text: str) -> dict:
    """Accession, form, filing date, acceptance time and CIKs from an SGML submission header
    (the tab-separated ``.txt`` header or the feed's tag form)."""
    def field(*names: str) -> str | None:
        for n in names:
            m = re.search(rf"(?:^|\n)\s*{n}:\s*([^\n]+)", text[:20000]) or re.search(rf"<{n}>([^<\n]+)", text[:20000])
            if m:
                return m.group(1).strip()
        return None
    accepted = field("ACCEPTANCE-DATETIME")
    filed = field("FILED AS OF DATE", "FILING-DATE")
    subject = re.search(r"SUBJECT COMPANY:.*?CENTRAL INDEX KEY:\s*(\d+)", text[:20000], re.S)
    return {"accession": field("ACCESSION NUMBER", "ACCESSION-NUMBER"),
            "form": field("CONFORMED SUBMISSION TYPE", "TYPE"),
            "filed": f"{filed[:4]}-{filed[4:6]}-{filed[6:8]}" if filed and filed.isdigit() else filed,
            "accepted_at": (f"{accepted[:4]}-{accepted[4:6]}-{accepted[6:8]}T{accepted[8:10]}:{accepted[10:12]}:"
                            f"{accepted[12:14]}") if accepted and accepted.isdigit() and len(accepted) >= 14 else None,
            "subject_cik": str(int(subject.group(1))) if subject else None}


def _first_document(text: str) -> str:
    m = re.search(r"<TEXT>(.*?)(?:</TEXT>|$)", text, re.S)
    body = m.group(1) if m else text
    xml = re.search(r"<XML>(.*?)</XML>", body, re.S)
    return xml.group(1).strip() if xml else body


def parse_bytes(raw: bytes) -> dict:
    """``{"kind", "accession", "records", ...}`` for any accepted document; raises UnknownDocument."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UnknownDocument(f"a gzip file that does not decompress: {exc}") from exc
    if zipfile.is_zipfile(io.BytesIO(raw)):
        return _guard(lambda: form13f.read_any(raw))
    text = raw.decode("utf-8", "replace")
    head = text.lstrip()[:4000]
    if head.startswith("{"):
        if '"facts"' in text[:5000] or '"facts"' in text:
            return _guard(lambda: {"accession": None, **xbrl.parse_companyfacts(text)})
        if '"filings"' in text:
            return _guard(lambda: {"kind": "submissions", "accession": None, **feeds.parse_submissions(text)})
        raise UnknownDocument("a JSON document that is neither companyfacts nor submissions")
    if "<feed" in head and "http://www.w3.org/2005/Atom" in head:
        return _guard(lambda: {"kind": "atom", "accession": None, **feeds.parse_atom(raw)})
    if re.search(r"<(SEC-DOCUMENT|SEC-HEADER|SUBMISSION)>", head):
        header = sgml_header(text)
        form = (header["form"] or "").upper()
        if form.startswith("13F"):
            return _guard(lambda: form13f.parse_submission(text))
        if re.search(r"13[DG]", form):
            doc = _first_document(text)
            out = _guard(lambda: forms13dg.parse(doc, header["form"]))
            if out.get("issuer_cik") is None and header["subject_cik"]:
                out["issuer_cik"] = header["subject_cik"]
                for r in out["records"]:
                    r["issuer_cik"] = header["subject_cik"]
            return {**out, "accession": header["accession"], "filed": header["filed"], "accepted_at": header["accepted_at"]}
        raise UnknownDocument(f"an SGML submission of form {header['form']!r}, not one this project reads")
    if "thirteenf/informationtable" in head or "thirteenffiler" in head:
        return _guard(lambda: form13f.read_any(raw))
    if re.search(r"http://www\.sec\.gov/edgar/schedule13[dDgG]", head):
        return {"accession": None, **_guard(lambda: forms13dg.parse_structured(text))}
    if re.search(r"xmlns:ix=|<ix:header", text[:200000]):
        return {"accession": None, **_guard(lambda: xbrl.parse_inline(raw))}
    if re.search(r"SCHEDULE\s+13[DG]", text[:20000], re.I):
        return {"accession": None, **_guard(lambda: forms13dg.parse_legacy(text))}
    raise UnknownDocument("not an EDGAR document this project reads (13F, SCHEDULE 13D/13G, inline XBRL, "
                          "companyfacts, submissions or latest-filings Atom)")


def _guard(fn) -> dict:
    try:
        return fn()
    except (forms13dg.ScheduleParseError, form13f.ThirteenFParseError, xbrl.XbrlParseError, feeds.FeedError) as exc:
        raise UnknownDocument(str(exc)) from exc


def jsonable(obj):
    """Dates as ISO text, numbers as JSON numbers (NaN as null)."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj
