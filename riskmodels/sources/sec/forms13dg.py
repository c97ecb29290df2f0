"""SCHEDULE 13D / 13G (and their amendments): who holds more than 5% of a class of securities.

* Structured XML (mandatory since 2024-12-18; namespaces ``.../schedule13D`` and
  ``.../schedule13g``, whose element names differ) is read with lxml by local names, nested
  CUSIPs and ``"22.2%"`` strings included (see :func:`parse_structured` for why not edgartools).
* Legacy SC 13D/13G text or HTML is read here from the cover page (edgartools returns only a
  header-level partial for these): issuer, title of class, CUSIP, date of event, amendment number,
  and per reporting person rows 5-11 (voting and dispositive power, aggregate amount, percent of
  class).

Joint filers repeat the same shares once per reporting person: the filing's stake is the group's
(``group_percent_of_class``: the largest percent any reporting person reports), never a sum. A 0%
amendment, or one ticking "5 percent or less" (item 5), is an exit (``is_exit``), kept.
"""
from __future__ import annotations

import datetime as dt
import re

NUMBER = r"(-0-|[\d,]+(?:\.\d+)?)"


class ScheduleParseError(ValueError):
    pass


def _num(text: str | None) -> float | None:
    if text is None:
        return None
    t = str(text).strip().replace(",", "").rstrip("%").strip()
    if t in ("", "-0-", "-"):
        return 0.0 if t == "-0-" else None
    try:
        return float(t)
    except ValueError:
        return None


def iso_date(text: str | None) -> str | None:
    """``11/19/2025``, ``2025-11-19`` or ``DECEMBER 29, 2023`` -> ``2025-11-19``."""
    if not text:
        return None
    t = re.sub(r"\s+", " ", str(text)).strip().rstrip(".")
    for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%m-%d-%Y", "%d %B %Y"):
        try:
            return dt.datetime.strptime(t.title() if "%B" in fmt or "%b" in fmt else t, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _form_amendment(form: str | None, number) -> int | None:
    if number not in (None, ""):
        try:
            return int(str(number).strip())
        except ValueError:
            pass
    return 0 if form and not form.endswith("/A") else None


def _finish(out: dict) -> dict:
    persons = out["records"]
    pcts = [p["percent_of_class"] for p in persons if p["percent_of_class"] is not None]
    out["group_percent_of_class"] = max(pcts) if pcts else None
    out["is_exit"] = bool(out.get("five_percent_or_less")) or (bool(pcts) and max(pcts) == 0.0)
    for p in persons:
        for k in ("form", "amendment_no", "event_date", "issuer_name", "issuer_cik", "issuer_cusip"):
            p[k] = out[k]
    return out


# --------------------------------------------------------------------------- structured XML
def _local(el, path: str):
    """The first element at ``path`` (``/``-separated local names, ``*`` = any depth) below ``el``."""
    found = el.xpath("./" + "/".join(("/" if p == "*" else f"*[local-name()='{p}']") for p in path.split("/"))
                     .replace("///", "//"))
    return found[0] if found else None


def _t(el, path: str) -> str | None:
    node = _local(el, path) if el is not None else None
    text = (node.text or "").strip() if node is not None else ""
    return text or None


def parse_structured(xml: str, form: str | None = None) -> dict:
    """A structured SCHEDULE 13D or 13G primary document, read by local element names (the two
    vocabularies differ: ``percentOfClass`` vs ``classPercent``, ``issuerCUSIP`` vs
    ``issuerCusip`` or nested ``issuerCusips/issuerCusipNumber``). edgartools' ``Schedule13G``
    is not used: it reads a cover-page ``classPercent`` of ``"22.2%"`` as 0.0, which would turn a
    22% holder into an exit."""
    from lxml import etree

    try:
        root = etree.fromstring(xml.lstrip().encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ScheduleParseError(f"not well-formed XML: {exc}") from exc
    ns = root.nsmap.get(None, "") or ""
    is_13d = ns.endswith("schedule13D")
    if not (is_13d or ns.endswith("schedule13g")):
        raise ScheduleParseError(f"not a SCHEDULE 13D or 13G document (namespace {ns!r})")
    form = _t(root, "headerData/submissionType") or form or ("SCHEDULE 13D" if is_13d else "SCHEDULE 13G")
    cover = _local(root, "formData/coverPageHeader")
    issuer = _local(root, "formData/*/issuerInfo")
    cusips = [c.text.strip().upper() for c in root.xpath("//*[local-name()='issuerInfo']//*[local-name()='issuerCusip' "
                                                         "or local-name()='issuerCUSIP' or local-name()='issuerCusipNumber']")
              if c.text and c.text.strip()]
    issuer_cik = _t(issuer, "issuerCIK") or _t(issuer, "issuerCik")
    five = _t(root, "formData/*/classOwnership5PercentOrLess")
    event = _t(cover, "dateOfEvent") if is_13d else _t(cover, "eventDateRequiresFilingThisStatement")
    out = {"kind": "13d" if is_13d else "13g", "form": form,
           "amendment_no": _form_amendment(form, _t(cover, "amendmentNo")), "event_date": iso_date(event),
           "issuer_name": _t(issuer, "issuerName"), "issuer_cik": str(int(issuer_cik)) if issuer_cik else None,
           "issuer_cusip": cusips[0] if cusips else None, "issuer_cusips": cusips,
           "securities_class": _t(cover, "securitiesClassTitle"),
           "five_percent_or_less": bool(five and five.lower() in ("y", "yes", "true")), "records": []}
    persons = root.xpath("//*[local-name()='reportingPersonInfo']" if is_13d
                         else "//*[local-name()='coverPageHeaderReportingPersonDetails']")
    for p in persons:
        shares = p if is_13d else _local(p, "reportingPersonBeneficiallyOwnedNumberOfShares")
        cik = _t(p, "reportingPersonCIK") or _t(p, "reportingPersonCik")
        out["records"].append({
            "reporting_person": _t(p, "reportingPersonName"), "reporting_person_cik": str(int(cik)) if cik else None,
            "percent_of_class": _num(_t(p, "percentOfClass") if is_13d else _t(p, "classPercent")),
            "shares": _num(_t(p, "aggregateAmountOwned") if is_13d
                           else _t(p, "reportingPersonBeneficiallyOwnedAggregateNumberOfShares")),
            "sole_voting": _num(_t(shares, "soleVotingPower")), "shared_voting": _num(_t(shares, "sharedVotingPower")),
            "sole_dispositive": _num(_t(shares, "soleDispositivePower")),
            "shared_dispositive": _num(_t(shares, "sharedDispositivePower")),
            "type_of_reporting_person": _t(p, "typeOfReportingPerson"),
            "member_of_group": _t(p, "memberGroup") or _t(p, "memberOfGroup")})
    if not out["records"]:
        raise ScheduleParseError("the schedule names no reporting person")
    return _finish(out)


# --------------------------------------------------------------------------- legacy text / HTML
def _text(raw: str) -> str:
    if re.search(r"<(html|body|table|div|p)\b", raw[:20000], re.I):
        import lxml.html

        raw = lxml.html.fromstring(raw.encode("utf-8", "replace")).text_content()
    return re.sub(r"\s+", " ", raw.replace("\xa0", " ")).strip()


def _before(text: str, marker: str, span: int = 240) -> str | None:
    m = re.search(r"\(\s*" + marker + r"\s*\)", text, re.I)
    if not m:
        return None
    head = text[max(0, m.start() - span):m.start()]
    for cut in (r"\)\s*", r"Act of 1934\s*", r"Amendment No\.?\s*\d*\s*\)?\s*\*?\s*"):
        parts = re.split(cut, head, flags=re.I)
        head = parts[-1] if parts[-1].strip() else head
    return head.strip(" :*") or None


def parse_legacy(raw: str, form: str | None = None) -> dict:
    """A legacy SC 13D / SC 13G document (text or HTML) by its cover page."""
    text = _text(raw)
    if not re.search(r"SCHEDULE\s+13[DG]", text, re.I):
        raise ScheduleParseError("no SCHEDULE 13D or 13G cover page found")
    is_13d = bool(re.search(r"SCHEDULE\s+13D", text[:3000], re.I)) and not re.search(r"SCHEDULE\s+13G", text[:3000], re.I)
    form = form or ("SC 13D" if is_13d else "SC 13G")
    amend = re.search(r"Amendment\s+No\.?\s*:?\s*(\d+)", text[:4000], re.I)
    cusip_txt = _before(text, r"CUSIP\s+Number") or ""
    cusip = re.search(r"\b([0-9A-Z]{6}[0-9A-Z]{2}[0-9])\b", cusip_txt.replace(" ", "")) or \
        re.search(r"CUSIP\s*(?:No\.?|Number)\s*:?\s*([0-9A-Z]{9})\b", text, re.I)
    out = {"kind": "13d" if is_13d else "13g", "form": form,
           "amendment_no": _form_amendment(form, amend.group(1) if amend else None),
           "event_date": iso_date(_before(text, r"Date of Event[^)]*")),
           "issuer_name": _before(text, r"Name of Issuer"), "issuer_cik": None,
           "issuer_cusip": cusip.group(1) if cusip else None,
           "securities_class": _before(text, r"Title of Class of Securities"),
           "five_percent_or_less": False, "records": []}
    out["issuer_cusips"] = [out["issuer_cusip"]] if out["issuer_cusip"] else []
    blocks = re.split(r"NAMES? OF REPORTING PERSONS?", text, flags=re.I)[1:]
    for b in blocks:
        b = b[:3000]
        name = re.match(r"\s*(?:I\.R\.S\.[^.]*?PERSONS?\s*\(?(?:ENTITIES ONLY)?\)?\s*:?)?\s*(.*?)\s+(?:2\s+)?CHECK THE APPROPRIATE", b, re.I)

        def grab(label: str, block: str = b) -> float | None:
            m = re.search(label + r"\s*:?\s*" + NUMBER, block, re.I)
            return _num(m.group(1)) if m else None

        pct = re.search(r"PERCENT OF CLASS REPRESENTED BY AMOUNT IN ROW\s*\(?\s*\d+\s*\)?\s*:?\s*" + NUMBER + r"\s*%", b, re.I)
        typ = re.search(r"TYPE OF REPORTING PERSON[^A-Z]*\s+([A-Z]{2})\b", b)
        out["records"].append({
            "reporting_person": name.group(1).strip(" :") if name else None, "reporting_person_cik": None,
            "percent_of_class": _num(pct.group(1)) if pct else None,
            "shares": grab(r"AGGREGATE AMOUNT BENEFICIALLY OWNED BY EACH REPORTING\s+PERSON"),
            "sole_voting": grab(r"SOLE VOTING POWER"), "shared_voting": grab(r"SHARED VOTING POWER"),
            "sole_dispositive": grab(r"SOLE DISPOSITIVE POWER"), "shared_dispositive": grab(r"SHARED DISPOSITIVE\s+POWER"),
            "type_of_reporting_person": typ.group(1) if typ else None, "member_of_group": None})
    if not out["records"]:
        raise ScheduleParseError("the cover page names no reporting person")
    return _finish(out)


def parse(raw: str, form: str | None = None) -> dict:
    """Structured XML or legacy text/HTML, whichever ``raw`` is."""
    if re.search(r"xmlns=\"http://www\.sec\.gov/edgar/schedule13[dDgG]\"", raw[:3000]):
        return parse_structured(raw, form)
    return parse_legacy(raw, form)
