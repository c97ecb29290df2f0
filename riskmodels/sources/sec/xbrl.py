"""XBRL: numeric facts of inline XBRL 10-K/10-Q documents, and the companyfacts JSON.

Inline XBRL is parsed here with lxml, because edgartools' ``XBRL`` reads extracted instance
documents (``*_htm.xml``) but returns pseudo-concepts for a raw inline ``.htm`` (living-sources.md
1c) and Arelle or py-xbrl need taxonomy downloads. What is read:

* contexts: entity, period (``startDate``/``endDate`` or ``instant``) and every
  ``xbrldi:explicitMember`` (axis = member);
* ``ix:nonFraction`` facts: ``name``, ``contextRef``, ``unitRef``, ``decimals``, ``scale``
  (10^scale), ``sign="-"``, ``format`` (``num-dot-decimal``, ``num-comma-decimal``, ``zerodash`` /
  ``fixed-zero``, ``numwordsen`` for "no"/"none") and nested ``ix`` elements' text;
* the same fact repeated in the document (inline filings repeat facts in several tables) is one.

Records (``riskmodels sec parse``): ``concept, axis, member, dimensions, period_start, period_end,
duration_months, unit, value, value_usd`` (consolidated facts have null axis and member; an
instant has a null start). Companyfacts records: ``concept, unit, period_start, period_end, value,
form, filed, accession`` (no dimensions: companyfacts carries consolidated facts only).
"""
from __future__ import annotations

import datetime as dt
import json
import re

IX = "http://www.xbrl.org/2013/inlineXBRL"
XBRLI = "http://www.xbrl.org/2003/instance"
XBRLDI = "http://xbrl.org/2006/xbrldi"
WORD_ZERO = {"no", "none", "nil", "zero", "-", "—", "–"}


class XbrlParseError(ValueError):
    pass


def _number(text: str, fmt: str | None) -> float | None:
    t = (text or "").strip()
    f = (fmt or "").split(":")[-1].lower()
    if f in ("fixed-zero", "zerodash", "fixedzero") or t.lower() in WORD_ZERO:
        return 0.0
    if "comma-decimal" in f or f == "numcommadecimal":
        t = t.replace(".", "").replace(" ", "").replace(",", ".")
    else:
        t = t.replace(",", "").replace(" ", "")
    t = t.strip("()$")
    try:
        return float(t)
    except ValueError:
        return None


def _months(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    d = (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1
    return int(round(d / 30.4375))


def parse_inline(raw: bytes | str) -> dict:
    """Every numeric fact of an inline XBRL document, plus its ``dei`` cover facts."""
    from lxml import etree

    data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    parser = etree.XMLParser(huge_tree=True, recover=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XbrlParseError(f"not an XHTML document: {exc}") from exc
    if root is None or not root.xpath("//*[local-name()='nonFraction']"):
        raise XbrlParseError("no inline XBRL facts (ix:nonFraction) in the document")
    contexts = {}
    for c in root.iter(f"{{{XBRLI}}}context"):
        start = c.findtext(f".//{{{XBRLI}}}startDate")
        end = c.findtext(f".//{{{XBRLI}}}endDate")
        instant = c.findtext(f".//{{{XBRLI}}}instant")
        dims = [(m.get("dimension"), (m.text or "").strip()) for m in c.iter(f"{{{XBRLDI}}}explicitMember")]
        contexts[c.get("id")] = {"start": start.strip() if start else None,
                                 "end": (end or instant or "").strip() or None, "dims": dims,
                                 "entity": (c.findtext(f".//{{{XBRLI}}}identifier") or "").strip()}
    units = {}
    for u in root.iter(f"{{{XBRLI}}}unit"):
        measures = [(m.text or "").strip() for m in u.iter(f"{{{XBRLI}}}measure")]
        units[u.get("id")] = "/".join(m.split(":")[-1] for m in measures)
    out, seen, dei = [], set(), {}
    for el in root.iter(f"{{{IX}}}nonFraction"):
        ctx = contexts.get(el.get("contextRef"))
        if ctx is None:
            continue
        value = _number("".join(el.itertext()), el.get("format"))
        if el.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true" or value is None:
            continue
        value *= 10 ** int(el.get("scale") or 0)
        if el.get("sign") == "-":
            value = -value
        unit = units.get(el.get("unitRef"), el.get("unitRef"))
        dims = sorted(ctx["dims"])
        key = (el.get("name"), ctx["start"], ctx["end"], tuple(dims), unit)
        if key in seen:
            continue
        seen.add(key)
        out.append({"concept": el.get("name"), "axis": dims[0][0] if dims else None,
                    "member": dims[0][1] if dims else None,
                    "dimensions": ";".join(f"{a}={m}" for a, m in dims) or None,
                    "period_start": ctx["start"], "period_end": ctx["end"],
                    "duration_months": _months(ctx["start"], ctx["end"]), "unit": unit, "value": value,
                    "value_usd": value if unit == "USD" else None, "decimals": el.get("decimals")})
    for el in root.iter(f"{{{IX}}}nonNumeric"):
        name = el.get("name") or ""
        if name.startswith("dei:") and name not in dei:
            dei[name] = re.sub(r"\s+", " ", "".join(el.itertext())).strip()
    cik = dei.get("dei:EntityCentralIndexKey") or next((c["entity"] for c in contexts.values() if c["entity"]), None)
    return {"kind": "xbrl", "cik": str(int(cik)) if cik and cik.isdigit() else cik,
            "document_type": dei.get("dei:DocumentType"), "period_end": dei.get("dei:DocumentPeriodEndDate"),
            "registrant": dei.get("dei:EntityRegistrantName"), "records": out}


def parse_companyfacts(raw: bytes | str) -> dict:
    """Every fact of a companyfacts JSON (all taxonomies)."""
    try:
        doc = json.loads(raw)
        facts = doc["facts"]
    except (ValueError, KeyError, TypeError) as exc:
        raise XbrlParseError(f"not a companyfacts JSON: {exc}") from exc
    out = []
    for taxonomy, concepts in facts.items():
        for concept, body in concepts.items():
            for unit, rows in (body.get("units") or {}).items():
                for r in rows:
                    out.append({"concept": f"{taxonomy}:{concept}", "unit": unit, "period_start": r.get("start"),
                                "period_end": r.get("end"), "value": r.get("val"), "form": r.get("form"),
                                "filed": r.get("filed"), "accession": r.get("accn"), "fy": r.get("fy"),
                                "fp": r.get("fp"), "frame": r.get("frame")})
    return {"kind": "companyfacts", "cik": str(int(doc["cik"])) if doc.get("cik") is not None else None,
            "entity_name": doc.get("entityName"), "records": out}
