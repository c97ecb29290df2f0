"""Great Expectations Data Docs: one folder per run in the storage root, and an index of runs.

Each process validates in its own ephemeral GX context (nothing GX keeps is shared between
processes). A run's Data Docs are built by GX into a private temporary directory, then copied to
``gx/data_docs/runs/<run_id>/`` in the storage root; the GX static assets are stored once in
``gx/data_docs/static/`` and the run's pages point there. Each run folder carries ``run.json``
(run date, run id, datasets, outcome).

The index ``gx/data_docs/index.html`` lists every run folder. It is rebuilt without a lock, by a
rule that is safe on any storage (a local disk, a shared mount, an object store with
read-after-write listings): a writer lists the ``run.json`` files, writes the index atomically,
lists again, and repeats until the listing equals what it wrote. Whoever writes last has listed
after every other writer's folder existed (each folder is complete before its writer starts), so
the final index names every run; a writer that finishes earlier only ever leaves an index that a
later writer overwrites. ``tests/test_concurrency.py`` checks this with writers in parallel.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

from . import storage
from .config import Settings, get_settings

SITE = "riskmodels_run"


def docs_root(settings: Settings | None = None):
    return storage.path("gx", "data_docs", settings=settings)


def site_config(base_directory: str) -> dict:
    return {"class_name": "SiteBuilder", "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": base_directory},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}


def _relink(page: str, depth: int) -> str:
    """Point a page ``depth`` folders below the run folder at the shared ``static/`` two levels
    up (whatever relative prefix GX wrote: it is not always right for validation pages)."""
    return re.sub(r'(href|src)="(?:\./|(?:\.\./)+)static/', lambda m: f'{m.group(1)}="{"../" * (depth + 2)}static/', page)


def publish_run(ctx, result_ids: list, run_id: str, run_date: dt.date, summary: dict,
                settings: Settings | None = None) -> str:
    """Build this run's Data Docs with GX into a temporary directory, copy them to the storage
    root and rebuild the index. Returns the URL of the run's index page."""
    settings = settings or get_settings()
    root = docs_root(settings)
    folder = root / "runs" / storage.safe_name(run_id)
    tmp = Path(tempfile.mkdtemp(prefix="riskmodels-docs-"))
    try:
        ctx.update_data_docs_site(SITE, site_config(str(tmp)))
        ctx.build_data_docs(site_names=[SITE], resource_identifiers=result_ids)
        static = root / "static"
        if not (static / ".complete").exists() and (tmp / "static").exists():
            for f in sorted((tmp / "static").rglob("*")):
                if f.is_file():
                    storage.write_bytes(static / f.relative_to(tmp / "static").as_posix(), f.read_bytes())
            storage.write_text(static / ".complete", "")
        for f in sorted(tmp.rglob("*.html")):
            rel = f.relative_to(tmp)
            storage.write_text(folder / rel.as_posix(), _relink(f.read_text(encoding="utf-8"), len(rel.parts) - 1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for key in result_ids:  # the in-memory results are on their pages now
            try:
                ctx.validation_results_store.remove_key(key)
            except Exception:  # noqa: BLE001 - already gone
                pass
    entry = {"run_id": run_id, "run_date": run_date.isoformat(), "built_at": dt.datetime.now(dt.timezone.utc)
             .isoformat(timespec="seconds"), "datasets": summary}
    storage.write_text(folder / "run.json", json.dumps(entry, sort_keys=True, default=str))
    rebuild_index(settings)
    return str(folder / "index.html")


def _entries(settings: Settings) -> list[dict]:
    runs = docs_root(settings) / "runs"
    out = []
    for name in sorted(storage.files(runs)):
        if name.endswith("/run.json"):
            try:
                with runs.fs.open(name, "rb") as f:
                    out.append(json.loads(f.read()))
            except (FileNotFoundError, ValueError):  # removed meanwhile, or half-copied by an old writer
                continue
    return sorted(out, key=lambda e: (e["run_date"], e.get("built_at", ""), e["run_id"]), reverse=True)


def render_index(entries: list[dict]) -> str:
    rows = []
    for e in entries:
        ds = e.get("datasets") or {}
        bad = sorted(k for k, v in ds.items() if not v.get("success", False))
        outcome = "all expectations met" if not bad else "failed: " + ", ".join(bad)
        rows.append(f"<tr><td>{html.escape(e['run_date'])}</td><td><a href=\"runs/{html.escape(storage.safe_name(e['run_id']))}"
                    f"/index.html\">{html.escape(e['run_id'])}</a></td><td>{len(ds)}</td>"
                    f"<td class=\"{'bad' if bad else 'ok'}\">{html.escape(outcome)}</td></tr>")
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>riskmodels: Great Expectations Data Docs"
            "</title><style>body{font-family:sans-serif;margin:24px}td,th{padding:4px 10px;border-bottom:1px solid "
            "#ddd;text-align:left}.bad{color:#b00020}.ok{color:#1b5e20}</style></head><body>"
            "<h1>Data Docs: validation runs</h1><p>One folder per run, newest first.</p><table><tr><th>run date</th>"
            "<th>run</th><th>datasets</th><th>outcome</th></tr>" + "".join(rows) + "</table></body></html>")


def rebuild_index(settings: Settings | None = None, max_rounds: int = 20) -> int:
    """Rewrite the index until it lists every run folder present (see the module docstring).
    Returns the number of runs listed."""
    settings = settings or get_settings()
    index = docs_root(settings) / "index.html"
    written = None
    for _ in range(max_rounds):
        entries = _entries(settings)
        ids = [e["run_id"] for e in entries]
        if ids == written:
            return len(ids)
        storage.write_text(index, render_index(entries))
        written = ids
    return len(written or [])


def expire(settings: Settings | None = None, now: float | None = None, keep_days: float = 90) -> dict:
    """Remove run folders built more than ``keep_days`` ago; rebuild the index if any went."""
    settings = settings or get_settings()
    now = time.time() if now is None else now
    runs = docs_root(settings) / "runs"
    by_run: dict[str, list] = {}
    for name, info in storage.files(runs).items():
        by_run.setdefault(name[len(runs.path):].strip("/").split("/")[0], []).append(info)
    removed, size = 0, 0
    for run, infos in by_run.items():
        times = [storage.mtime(i) for i in infos]
        if times and all(t is not None and now - t > keep_days * 86400 for t in times):
            storage.remove(runs / run, recursive=True)
            removed += 1
            size += sum(int(i.get("size") or 0) for i in infos)
    if removed:
        rebuild_index(settings)
    return {"runs": removed, "bytes": size}
