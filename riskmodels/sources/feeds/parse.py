"""Feed documents as records: RSS 2.0 and Atom (feedparser), and the GOV.UK Content API JSON of a
CMA case.

A feed item record: ``feed, guid, title, link, summary, published`` (ISO date-time, UTC). The
guid is the item's ``guid`` / ``id``; an item without one (DOJ's RSS) is identified by its link.
Repeated guids within one document are kept once. Summaries are plain text (HTML stripped).
"""
from __future__ import annotations

import calendar
import datetime as dt
import html
import json
import re


class FeedFormatError(ValueError):
    """A feed document is not the RSS/Atom (or JSON) it was declared to be."""


_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"\s+")


def plain(text: str | None) -> str:
    """HTML to one line of text (tags dropped, entities decoded, whitespace collapsed)."""
    return _WS.sub(" ", html.unescape(_TAG.sub(" ", text or ""))).strip()


def _when(entry) -> str | None:
    for key in ("published_parsed", "updated_parsed"):
        t = entry.get(key)
        if t:
            return dt.datetime.fromtimestamp(calendar.timegm(t), dt.timezone.utc).replace(tzinfo=None).isoformat()
    return None


def parse_feed(raw: bytes, feed: str, source: str | None = None) -> list[dict]:
    """Items of one RSS/Atom document. Raises :class:`FeedFormatError` naming ``source`` when the
    bytes are not a feed (an HTML error page, a truncated document with no item, binary)."""
    import feedparser

    where = source or feed
    head = raw[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise FeedFormatError(f"{where}: an HTML page where an RSS/Atom feed was declared")
    parsed = feedparser.parse(raw)
    version = parsed.get("version") or ""
    if not version:
        reason = getattr(parsed.get("bozo_exception"), "getMessage", lambda: None)() or parsed.get("bozo_exception")
        raise FeedFormatError(f"{where}: not an RSS or Atom feed ({reason or 'no channel or feed element'})")
    if parsed.bozo and not parsed.entries:
        raise FeedFormatError(f"{where}: the feed does not parse ({parsed.bozo_exception})")
    out, seen = [], set()
    for i, e in enumerate(parsed.entries, 1):
        guid = (e.get("id") or e.get("guid") or e.get("link") or "").strip()
        if not guid or guid in seen:
            continue
        seen.add(guid)
        out.append({"feed": feed, "guid": guid, "position": i, "title": plain(e.get("title")),
                    "link": (e.get("link") or "").strip() or None, "summary": plain(e.get("summary")),
                    "published": _when(e)})
    if parsed.bozo and out:
        # a document cut short still yields its complete items; the caller records the problem
        out[-1]["_bozo"] = str(parsed.bozo_exception)
    return out


def cma_slug(link: str | None) -> str | None:
    """``https://www.gov.uk/cma-cases/<slug>`` -> ``<slug>``."""
    m = re.match(r"^https?://(?:www\.)?gov\.uk/cma-cases/([A-Za-z0-9-]+)/?(?:[#?].*)?$", link or "")
    return m.group(1) if m else None


def parse_cma_case(raw: bytes, source: str) -> dict:
    """The fields of a GOV.UK Content API ``cma_case`` document that classify the case:
    ``title, description, case_type, case_state, market_sector, outcome_type, opened_date,
    closed_date`` (dates ``YYYY-MM-DD`` or None)."""
    try:
        doc = json.loads(raw)
        meta = doc["details"]["metadata"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FeedFormatError(f"{source}: not a GOV.UK Content API case document ({exc})") from exc
    if doc.get("document_type") != "cma_case":
        raise FeedFormatError(f"{source}: document_type is {doc.get('document_type')!r}, not 'cma_case'")
    sectors = meta.get("market_sector") or []
    return {"title": doc.get("title"), "description": plain(doc.get("description")),
            "case_type": meta.get("case_type"), "case_state": meta.get("case_state"),
            "market_sector": ";".join(sectors if isinstance(sectors, list) else [str(sectors)]),
            "outcome_type": meta.get("outcome_type"),
            "opened_date": (meta.get("opened_date") or None), "closed_date": (meta.get("closed_date") or None)}
