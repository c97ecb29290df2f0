"""An analyst's review of what the feeds and 8-Ks suggest (``riskmodels review ...``; the ``review``
DAG asks the same through Airflow's Required Actions).

A candidate (``candidate_events``: ids ``E...``; ``candidate_deals``: ids ``D...``) carries a
suggested row. :func:`accept` takes it, with the analyst's edits (``--set field=value``), checks it
against the suite of its dataset exactly as the daily validation would (confidence ``reviewed``
added to the grades the suite allows) and stores it as accepted, with the reviewer and the time:
from the next run on it is a ``regulatory_events``, ``investments`` or ``compute_commitments`` row
(:func:`reviewed_rows`). :func:`reject` keeps the candidate with the note; a rejected guid or
accession is never matched again.
"""
from __future__ import annotations

import copy
import datetime as dt
import getpass
import json
import os

import pandas as pd

from . import store
from .config import Settings, get_settings

#: the confidence grade of an accepted candidate (riskmodels.pipeline.CONFIDENCE_ORDER)
REVIEWED = "reviewed"
DATASETS = ("regulatory_events", "investments", "compute_commitments")


class ReviewError(ValueError):
    """A review that cannot be recorded (unknown id, already decided, a row that fails its suite)."""


def _table(candidate_id: str) -> str:
    kind = (candidate_id or "")[:1].upper()
    if kind == "E":
        return "candidate_events"
    if kind == "D":
        return "candidate_deals"
    raise ReviewError(f"{candidate_id!r}: not a candidate id (E... for regulatory events, D... for 8-K deals)")


def reviewer_name(reviewer: str | None = None) -> str:
    """Who reviews: the given name, else ``RISKMODELS_REVIEWER``, else the login name."""
    return reviewer or os.environ.get("RISKMODELS_REVIEWER") or getpass.getuser()


def candidates(status: str | None = "pending", settings: Settings | None = None) -> pd.DataFrame:
    """Candidates of both kinds, newest first: ``candidate_id, kind, date, source, parties,
    what, title, status`` (``status`` None or "all": every status)."""
    settings = settings or get_settings()
    store.get_engine(settings)
    where = "" if status in (None, "all") else "WHERE status = :s"
    ev = store.read_sql(f"SELECT candidate_id, 'event' AS kind, date, authority AS source, party_ids AS parties, "
                        f"category AS what, title, status, seq FROM candidate_events {where}", {"s": status}, settings)
    de = store.read_sql(f"SELECT candidate_id, 'deal' AS kind, filing_date AS date, 'SEC 8-K ' || accession AS source, "
                        f"party_ids AS parties, dataset AS what, evidence AS title, status, seq FROM candidate_deals "
                        f"{where}", {"s": status}, settings)
    out = pd.concat([f for f in (ev, de) if len(f)], ignore_index=True) if len(ev) or len(de) else ev
    return out.sort_values(["date", "kind", "seq"], ascending=[False, True, True]).drop(columns="seq").reset_index(drop=True)


def show(candidate_id: str, settings: Settings | None = None) -> dict:
    """Everything stored about one candidate; ``suggested`` and ``accepted`` as dicts."""
    settings = settings or get_settings()
    store.get_engine(settings)
    table = _table(candidate_id)
    got = store.read_sql(f"SELECT * FROM {table} WHERE candidate_id = :c", {"c": candidate_id}, settings)
    if got.empty:
        raise ReviewError(f"{candidate_id}: no such candidate in {table}")
    row = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in got.iloc[0].to_dict().items()}
    for key in ("suggested", "accepted"):
        row[key] = json.loads(row[key]) if row.get(key) else None
    row["table"] = table
    return row


def _columns(dataset: str, settings: Settings) -> list[str]:
    from .sources.feeds.daily import dataset_frame

    return [c for c in dataset_frame(dataset, settings).columns if c != "_row"]


def check_row(dataset: str, row: dict, settings: Settings | None = None) -> list[str]:
    """The critical expectations of ``dataset``'s suite that ``row`` fails (as
    "column: expectation (value)"), with confidence ``reviewed`` allowed; [] when it passes."""
    from .checks import run_checks
    from .sources.feeds.daily import dataset_frame
    from .validate import load_suite_dict, prepare_frame, registry_flags

    settings = settings or get_settings()
    doc = copy.deepcopy(load_suite_dict(dataset, settings))
    for e in doc["expectations"]:
        if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"].get("column") == "confidence":
            e["kwargs"]["value_set"] = [*e["kwargs"]["value_set"], REVIEWED]
    meta = doc.get("meta", {})
    text = {k: (None if v is None or (isinstance(v, float) and pd.isna(v)) or str(v).strip() == "" else str(v))
            for k, v in row.items()}
    frame = pd.DataFrame([text]).assign(_row=1)
    typed = prepare_frame(frame, meta)
    ids = list(dataset_frame("entities", settings)["entity_id"])
    typed = registry_flags(typed, meta, {"entity_ids": ids, "market_ids": []})
    out = []
    for f in run_checks(typed, doc, {"entity_ids": ids, "market_ids": []}):
        if str(f["severity"]).lower() != "critical":
            continue
        col = f["kwargs"].get("column") or f["kwargs"].get("column_list")
        shown = str(col).removeprefix("__bad_").removeprefix("__unregistered_")
        value = typed[col].iloc[0] if isinstance(col, str) and col in typed else None
        if str(col).startswith("__unregistered_"):
            why = "not a registered entity id"
        elif str(col).startswith("__bad_"):
            why = "not a valid " + ("date" if shown in meta.get("date_columns", []) else "number")
        elif f["type"] == "expect_column_values_to_not_be_null":
            why = "required (empty)"
        else:
            why = f["type"]
        out.append(f"{shown}: {why}" + (f" ({value!r})" if value is not None and not pd.isna(value) else ""))
    return out


def accept(candidate_id: str, sets: dict | None = None, reviewer: str | None = None, note: str | None = None,
           settings: Settings | None = None) -> dict:
    """Accept a candidate's suggested row with the analyst's edits ``sets`` ({field: value};
    "" empties a field). The row must pass its dataset's suite; it is stored with confidence
    ``reviewed``, ``ref_file`` the candidate table and ``ref_row`` its sequence number. Returns
    the accepted row (with ``dataset``)."""
    settings = settings or get_settings()
    cand = show(candidate_id, settings)
    if cand["status"] not in ("pending", "known"):
        raise ReviewError(f"{candidate_id}: already {cand['status']} by {cand['reviewer']} at {cand['reviewed_at']}")
    row = dict(cand["suggested"])
    dataset = row.pop("dataset", None) or "regulatory_events"
    sets = dict(sets or {})
    dataset = sets.pop("dataset", None) or dataset
    if dataset not in DATASETS:
        raise ReviewError(f"{candidate_id}: dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
    cols = _columns(dataset, settings)
    unknown = sorted(set(sets) - set(cols))
    if unknown:
        raise ReviewError(f"{candidate_id}: {dataset} has no field(s) {', '.join(unknown)} "
                          f"(fields: {', '.join(cols)})")
    row.update({k: (None if v == "" else v) for k, v in sets.items()})
    row.update(confidence=REVIEWED, ref_file=cand["table"], ref_row=int(cand["seq"]))
    full = {c: row.get(c) for c in cols}
    problems = check_row(dataset, full, settings)
    if problems:
        raise ReviewError(f"{candidate_id}: the {dataset} row fails its suite, nothing was recorded: "
                          + "; ".join(problems) + " (fix with --set field=value)")
    who = reviewer_name(reviewer)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    accepted = {"dataset": dataset, **full, "reviewer": who, "reviewed_at": now.isoformat()}
    if not store.review_candidate(cand["table"], candidate_id, {"status": "accepted", "reviewer": who,
                                  "reviewed_at": now, "accepted": json.dumps(accepted, default=str),
                                  "note": (note or "").strip() or None}, settings):
        raise ReviewError(f"{candidate_id}: decided by someone else meanwhile")
    return accepted


def reject(candidate_id: str, note: str, reviewer: str | None = None, settings: Settings | None = None) -> dict:
    """Reject a candidate with a note (required: the next analyst reads why)."""
    settings = settings or get_settings()
    if not (note or "").strip():
        raise ReviewError(f"{candidate_id}: a rejection needs a note (--note TEXT)")
    cand = show(candidate_id, settings)
    if cand["status"] not in ("pending", "known"):
        raise ReviewError(f"{candidate_id}: already {cand['status']} by {cand['reviewer']} at {cand['reviewed_at']}")
    who = reviewer_name(reviewer)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    if not store.review_candidate(cand["table"], candidate_id, {"status": "rejected", "reviewer": who,
                                                                 "reviewed_at": now, "note": note.strip()}, settings):
        raise ReviewError(f"{candidate_id}: decided by someone else meanwhile")
    return {"candidate_id": candidate_id, "status": "rejected", "reviewer": who, "reviewed_at": now.isoformat(),
            "note": note.strip()}


def reviewed_rows(run_date: dt.date, settings: Settings | None = None) -> dict[str, pd.DataFrame]:
    """The accepted candidates known by ``run_date`` (accepted on or before it, and the row's own
    date on or before it) per dataset, as text frames in the dataset's columns plus
    ``reviewer, reviewed_at``: what :func:`riskmodels.pipeline.with_reviewed_rows` adds."""
    settings = settings or get_settings()
    store.get_engine(settings)
    rows = []
    for table in store.CANDIDATE_TABLES:
        got = store.read_sql(f"SELECT accepted, reviewed_at FROM {table} WHERE status = 'accepted'", settings=settings)
        rows += [json.loads(a) for a, when in zip(got["accepted"], got["reviewed_at"])
                 if pd.Timestamp(when).date() <= run_date]
    out = {}
    for dataset in DATASETS:
        mine = [r for r in rows if r.get("dataset") == dataset]
        if mine:
            out[dataset] = pd.DataFrame(mine).drop(columns="dataset")
    return out


def parse_edits(text: str | None) -> dict:
    """``"field=value; field=value"`` (the review form's edits box) -> {field: value}."""
    out = {}
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        field, sep, value = part.partition("=")
        if not sep or not field.strip():
            raise ReviewError(f"edit {part!r}: expected field=value")
        out[field.strip()] = value.strip()
    return out


def hitl_requests(limit: int = 50, settings: Settings | None = None) -> list[dict]:
    """The pending candidates as Required Actions (the ``review`` DAG): ``candidate_id``,
    ``subject`` and a Markdown ``body`` with the evidence, the text that matched, the rule that
    fired and the suggested row; oldest first, at most ``limit``."""
    settings = settings or get_settings()
    pending = candidates("pending", settings).iloc[::-1].head(limit)
    out = []
    for cid in pending["candidate_id"]:
        c = show(cid, settings)
        row = c["suggested"]
        table = "\n".join(f"| {k} | {'' if v is None else str(v).replace('|', '/')} |" for k, v in row.items())
        if c["table"] == "candidate_events":
            head = f"{cid}: {c['authority']} {c['category'] or 'announcement'} naming {c['party_ids'].replace(';', ', ')}"
            why = (f"**Matched** {c['matched'].replace(';', '; ')} · **rule** `{c['rule_id']}` on \"{c['rule_text']}\"\n\n"
                   f"[{c['title']}]({c['link']})")
        else:
            head = f"{cid}: 8-K {c['accession']} ({c['items']}) of {c['filer_id']}"
            why = f"**Matched** {(c['matched'] or 'no counterparty named').replace(';', '; ')} · **rule** `{c['deal_rule']}`\n\n[filing]({c['url']})"
        out.append({"candidate_id": cid, "subject": head[:250],
                    "body": (f"{why}\n\n> {c['evidence']}\n\n**Suggested row** (edit with `field=value; ...`):\n\n"
                             f"| field | value |\n|---|---|\n{table}\n")})
    return out


def record_decisions(requests: list[dict], decisions: list[dict], settings: Settings | None = None) -> dict:
    """Apply the Required Actions' answers (``chosen_options``, ``params_input`` with ``note`` and
    ``edits``, ``responded_by_user``) to the candidates, in order. Returns ``{"accepted": [...],
    "rejected": [...], "later": [...], "errors": {id: message}}``."""
    out = {"accepted": [], "rejected": [], "later": [], "errors": {}}
    for req, dec in zip(requests, decisions):
        cid = req["candidate_id"]
        choice = (dec.get("chosen_options") or ["Later"])[0]
        params = dec.get("params_input") or {}
        user = dec.get("responded_by_user") or {}
        who = (user.get("name") or user.get("id")) if isinstance(user, dict) else str(user)
        try:
            if choice == "Accept":
                accept(cid, parse_edits(params.get("edits")), reviewer=who or None, note=params.get("note"),
                       settings=settings)
                out["accepted"].append(cid)
            elif choice == "Reject":
                reject(cid, params.get("note") or "rejected in Airflow's Required Actions", reviewer=who or None,
                       settings=settings)
                out["rejected"].append(cid)
            else:
                out["later"].append(cid)
        except ReviewError as exc:
            out["errors"][cid] = str(exc)
    return out
