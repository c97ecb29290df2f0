"""8-K material agreements of watched issuers as deal candidates (``candidate_deals``).

The SEC source (``riskmodels.sources.sec.daily``) lists every 8-K it discovers in ``sec_filings``
(``kind = event``, with its ``items``). Here the 8-Ks whose items include one of
``config/events.yaml`` ``eightk.items`` (1.01, 1.02, 2.01, 3.02) are read: the full submission text
file (``/Archives/edgar/data/<cik>/<accession without dashes>/<accession>.txt``, landed by the
shared client), reduced to plain text, then

* the counterparties: watched firms the text names other than the filer (the alias table);
* the dataset of the suggested row (compute commitment or investment) by ``deal_rules``;
* the amount (USD bn; a ceiling when the text says "up to" ...) and the term in years, where the
  text states them (:func:`.match.deal_terms`).

A filing whose document cannot be fetched still becomes a candidate (its items and filer), with
the reason in the evidence: the analyst reads the filing. Nothing here is a fact until accepted.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

import pandas as pd

from ...config import Settings, get_settings
from . import events_config
from .daily import candidate_id, dataset_frame
from .match import alias_table, deal_terms, find_parties
from .parse import plain

log = logging.getLogger(__name__)


def eightk_filings(cfg: dict, run_date: dt.date, settings: Settings) -> pd.DataFrame:
    """``sec_filings`` 8-Ks filed by ``run_date`` with a configured item, not yet a candidate."""
    from ... import store

    f = store.read_sql("SELECT accession, cik, form, filed, items, url FROM sec_filings WHERE form LIKE '8-K%' "
                       "AND filed <= :d AND accession NOT IN (SELECT accession FROM candidate_deals)",
                       {"d": run_date}, settings)
    if f.empty:
        return f
    want = set(cfg["items"])
    hit = f["items"].fillna("").str.split(",").map(lambda xs: bool(want & {x.strip() for x in xs}))
    return f[hit].reset_index(drop=True)


def _text(raw: bytes) -> str:
    return plain(raw.decode("utf-8", "replace"))


def suggested_deal(row: dict, terms: dict, filer: str, counterparty: str | None, names: dict[str, str]) -> dict:
    """The row an 8-K suggests for ``compute_commitments`` (filer = the party stated first in the
    deal rule's direction is unknown: the filer is taken as the buyer / investor, which the analyst
    confirms or swaps) or ``investments``. Amounts keep their basis: ``ceiling`` for "up to"."""
    base = {"date": str(row["filed"])[:10], "amount_usd_bn": terms["amount_usd_bn"],
            "amount_basis": None if terms["amount_usd_bn"] is None else ("ceiling" if terms["amount_is_ceiling"]
                                                                         else "reported"),
            "source": f"SEC 8-K {row['accession']} (items {row['items']})", "source_url": row["url"],
            "source_date": str(row["filed"])[:10], "confidence": "reviewed",
            "notes": "; ".join(t for t in (terms["deal_text"], terms["amount_text"], terms["term_text"]) if t) or None}
    if terms["dataset"] == "investments":
        return {"dataset": "investments", **base, "investor_id": filer, "investee_id": counterparty,
                "investor_raw": names.get(filer, filer), "investee_raw": names.get(counterparty, counterparty),
                "stake_pct": None, "instrument": terms["deal_text"], "rights": None}
    return {"dataset": "compute_commitments", **base, "buyer_id": counterparty, "supplier_id": filer,
            "buyer_raw": names.get(counterparty, counterparty), "supplier_raw": names.get(filer, filer),
            "power_gw": None, "power_basis": None, "term_years": terms["term_years"], "accelerator_family": None}


def run_day(run_date: dt.date, settings: Settings | None = None, http=None) -> dict:
    """Read the new qualifying 8-Ks and store their candidates. Returns ``{"filings": n,
    "candidates": n, "unavailable": [accession]}``."""
    from ... import storage, store
    from ..client import FetchError
    from ..sec import Urls
    from ..sec import client as sec_client

    settings = settings or get_settings()
    cfg = events_config(settings)
    filings = eightk_filings(cfg["eightk"], run_date, settings)
    if filings.empty:
        return {"filings": 0, "candidates": 0, "unavailable": []}
    entities = dataset_frame("entities", settings)
    names = dict(zip(entities["entity_id"], entities["name"]))
    by_cik = {str(int(c)): e for c, e in zip(entities.get("cik", pd.Series(dtype=object)), entities["entity_id"])
              if isinstance(c, str) and c.strip().isdigit()}
    aliases = pd.read_csv(settings.home / "data" / "entity_aliases.csv", dtype=str, keep_default_na=False)
    table = alias_table(entities, aliases, cfg)
    http = http or sec_client(settings)
    urls = Urls(settings)
    rows, unavailable = [], []
    for r in filings.to_dict("records"):
        filer = by_cik.get(str(int(r["cik"]))) if str(r["cik"] or "").isdigit() else None
        if filer is None:
            continue
        url = r["url"] or urls.full_submission(r["cik"], r["accession"])
        r["url"] = url
        text, sha, landed, why = "", None, None, None
        try:
            resp = http.get(url, conditional=True)
            if resp.ok or resp.not_modified:
                raw = resp.body if resp.body is not None else storage.from_url(resp.landing_path).read_bytes()
                text, sha, landed = _text(raw), resp.sha256, resp.landing_path
            else:
                why = f"HTTP {resp.status} for {url}"
        except FetchError as exc:
            why = str(exc)
        if why:
            unavailable.append(r["accession"])
        terms = deal_terms(text, cfg["eightk"])
        found = find_parties(pd.Series([text]), table).iloc[0]
        others = [p for p in (found["party_ids"] or "").split(";") if p and p != filer]
        counterparty = others[0] if len(others) == 1 else None
        suggested = suggested_deal(r, terms, filer, counterparty, names)
        evidence = (f"8-K items {r['items']} filed {str(r['filed'])[:10]} by {names.get(filer, filer)}: "
                    + (f"document unavailable ({why}); read the filing" if why else
                       " | ".join(t for t in (terms["deal_text"], terms["amount_text"], terms["term_text"]) if t)
                       or "no deal words, amount or term found in the text"))
        rows.append({"candidate_id": candidate_id("D", r["accession"]), "accession": r["accession"], "cik": r["cik"],
                     "filer_id": filer, "form": r["form"], "items": r["items"], "filing_date": r["filed"], "url": url,
                     "party_ids": ";".join(others) or None, "matched": found["matched"], **{k: terms[k] for k in (
                         "dataset", "deal_rule", "deal_text", "amount_usd_bn", "amount_text", "amount_is_ceiling",
                         "term_years", "term_text")},
                     "evidence": evidence, "document_sha256": sha, "landing_path": landed,
                     "suggested": json.dumps(suggested, default=str), "status": "pending",
                     "created_run_date": run_date})
    n = store.publish_deals(rows, settings)["candidate_deals"]
    return {"filings": int(len(filings)), "candidates": n, "unavailable": unavailable}
