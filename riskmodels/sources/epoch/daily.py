"""One day of Epoch AI: fetch each dataset (conditional GET), parse, validate, publish or quarantine.

A release is the whole file, content-addressed by its sha256: a 304 or the bytes of a release
already processed change nothing; a new release is parsed (:func:`.release.read_release`, whose
schema check names the file, row and column), validated with the suite of its table
(``expectations/<table>.json``; one ``validation_results`` row per release), and either
published (its rows and an ``epoch_releases`` row, one transaction) or quarantined (an
``epoch_releases`` row with the reason, the landed bytes kept; the previous release stays the one
the daily run scores, and the digest's validation rule says why).
"""
from __future__ import annotations

import datetime as dt
import json
import logging

import numpy as np
import pandas as pd

from ...config import Settings, get_settings
from . import epoch_config, fetch
from .release import EpochSchemaError, read_release

log = logging.getLogger(__name__)


def tables(cfg: dict) -> dict[str, str]:
    """dataset of ``config/epoch.yaml`` -> its store table (and suite: the same name)."""
    return {name: spec["table"] for name, spec in cfg["datasets"].items()}


def _text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as validation reads them: text, empty cells as None, numbers and dates in ISO form."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None)
        elif pd.api.types.is_float_dtype(s):
            out[col] = s.map(repr).astype(object).where(s.notna(), None)
        else:
            out[col] = s.astype(str).astype(object).where(s.notna() & s.astype(str).ne(""), None)
    return out


def _record_parse_failure(table: str, sha: str, message: str, run_date: dt.date, settings: Settings) -> None:
    from ... import store

    store.record_validation([{
        "run_date": run_date, "dataset": table, "sha256": sha, "suite": table, "success": False, "evaluated": 1,
        "failed_critical": 1, "failed_warning": 0, "rows": 0, "mode": "parse", "gx_rows": 0, "data_docs": None,
        "details": json.dumps([{"dataset": table, "severity": "critical", "expectation": "release parses",
                                "column": None, "unexpected_count": None, "message": message}])}], settings)


def load_release(dataset: str, raw: bytes, sha: str, url: str, as_of: dt.date, run_date: dt.date,
                 landing_path: str | None = None, run_id: str | None = None,
                 settings: Settings | None = None) -> dict:
    """Parse, validate and publish (or quarantine) one release's bytes. Returns the release row
    (``status`` published or quarantined, ``reason``, ``rows``)."""
    from ... import store
    from ...validate import validate_frame

    settings = settings or get_settings()
    cfg = epoch_config(settings)
    source = url.rsplit("/", 1)[-1]
    release = {"dataset": dataset, "sha256": sha, "url": url, "as_of": as_of, "landing_path": landing_path,
               "run_date": run_date, "processed_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)}
    table = tables(cfg)[dataset]
    try:
        frame = read_release(raw, cfg, dataset, source=f"{source} (release {sha[:12]})")
    except EpochSchemaError as exc:
        _record_parse_failure(table, sha, str(exc), run_date, settings)
        release.update(status="quarantined", reason=str(exc), rows=0)
        store.publish_epoch(release, {}, settings)
        log.warning("Epoch %s release %s quarantined: %s", dataset, sha[:12], exc)
        return release
    frame = frame.assign(release_sha256=sha)
    res = validate_frame(_text_frame(frame), table, run_date, run_id=run_id, settings=settings,
                         location=f"epoch:{dataset}", key_column="row")
    if not res["success"]:
        rows = sorted(res["bad_keys"].items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)
        reason = f"{source}: " + "; ".join(f"{why}" for _, why in rows[:5]) + (
            f" (and {len(rows) - 5} more rows)" if len(rows) > 5 else "")
        release.update(status="quarantined", reason=reason, rows=0)
        store.publish_epoch(release, {}, settings)
        log.warning("Epoch %s release %s quarantined: %s", dataset, sha[:12], reason)
        return release
    stored = frame.replace({"": None}).astype(object).where(frame.notna(), None)
    release.update(status="published", reason=None, rows=int(len(frame)))
    store.publish_epoch(release, {table: stored}, settings)
    return release


def run_day(run_date: dt.date, run_id: str | None = None, settings: Settings | None = None, http=None) -> dict:
    """Fetch every dataset of ``config/epoch.yaml`` and load the new releases (what the
    ``epoch_compute`` DAG does). Returns ``{"releases": [...], "new": n, "published": [tables]}``.
    Raises :class:`~riskmodels.sources.client.FetchError` when a dataset stayed unreachable (after
    loading the others)."""
    from ... import storage, store
    from ..client import FetchError

    settings = settings or get_settings()
    store.get_engine(settings)
    cfg = epoch_config(settings)
    known = store.read_sql("SELECT dataset, sha256, status FROM epoch_releases", settings=settings)
    out, failures = [], []
    names = tables(cfg)
    for dataset in cfg["datasets"]:
        try:
            resp, as_of = fetch(dataset, settings, http)
        except FetchError as exc:
            failures.append(f"{dataset}: {exc}")
            continue
        if not resp.ok and not resp.not_modified:
            failures.append(f"{dataset}: HTTP {resp.status} for {cfg['datasets'][dataset]['url']}")
            continue
        seen = known[(known["dataset"] == dataset) & (known["sha256"] == resp.sha256)]
        if len(seen):  # a 304, or the bytes of a release already processed
            out.append({"dataset": dataset, "sha256": resp.sha256, "status": "unchanged",
                        "previous": seen["status"].iloc[0] if len(seen) else None})
            continue
        raw = resp.body if resp.body is not None else storage.from_url(resp.landing_path).read_bytes()
        rel = load_release(dataset, raw, resp.sha256, cfg["datasets"][dataset]["url"], as_of, run_date,
                           resp.landing_path, run_id, settings)
        out.append({k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in rel.items()})
    summary = {"run_date": run_date.isoformat(), "releases": out,
               "new": int(np.sum([r["status"] != "unchanged" for r in out])) if out else 0,
               "published": sorted({names[r["dataset"]] for r in out if r["status"] == "published"}),
               "quarantined": [{"dataset": r["dataset"], "sha256": r["sha256"], "reason": r["reason"]}
                               for r in out if r["status"] == "quarantined"]}
    if failures:
        raise FetchError(f"Epoch run {run_date}: {len(failures)} dataset(s) could not be fetched (the rest loaded): "
                         + "; ".join(failures))
    return summary
