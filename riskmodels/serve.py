"""Browse and query the risk store in Datasette, read-only.

``riskmodels serve`` (``make serve``) writes Datasette's metadata — every table and column with
its description, units and legal source (``config/store_docs.yaml`` over the schema in
``riskmodels.store``), facets on layer / analyst / zone, and the canned queries analysts ask most
(``config/queries.yaml``) — then starts ``datasette serve --immutable`` on 127.0.0.1 over a consistent snapshot of the
store (SQLite's backup API), so nothing can be written through it and a running pipeline is not
disturbed. Datasette renders ``http(s)://`` cell values (``source_url``) as links.

PostgreSQL deployments: connect a BI tool with a login in the read-only ``riskmodels_analyst``
role (``sql/roles.sql``); Datasette here serves the SQLite store only.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .config import Settings, get_settings, load_yaml

DATABASE = "riskmodels"       # the database's name in Datasette's URLs (/riskmodels/concentration)
FACET_COLUMNS = ("layer", "analyst", "zone")


def _tables():
    from . import alerts, store  # noqa: F401 - alerts registers alert_state and alert_outbox

    return store.metadata.tables


def table_docs(settings: Settings | None = None) -> dict[str, dict]:
    """Per table of the schema: ``description`` and ``columns`` {name: description}, from
    config/store_docs.yaml (a table's own column text wins over ``common``)."""
    settings = settings or get_settings()
    docs = load_yaml(settings.home / "config" / "store_docs.yaml")
    common, tables = docs.get("common") or {}, docs.get("tables") or {}
    out = {}
    for name, table in _tables().items():
        own = tables.get(name) or {}
        cols = {}
        for c in table.columns:
            text = (own.get("columns") or {}).get(c.name) or common.get(c.name)
            if text:
                cols[c.name] = text
        out[name] = {"description": own.get("description", ""), "columns": cols}
    return out


def datasette_metadata(settings: Settings | None = None) -> dict:
    """Datasette metadata (a JSON-able dict) for the SQLite risk store."""
    settings = settings or get_settings()
    queries = load_yaml(settings.home / "config" / "queries.yaml")["queries"]
    tables = {}
    for name, doc in table_docs(settings).items():
        columns = [c.name for c in _tables()[name].columns]
        entry = {"description": doc["description"], "columns": doc["columns"]}
        facets = [c for c in FACET_COLUMNS if c in columns]
        if facets:
            entry["facets"] = facets
        if "name" in columns:
            entry["label_column"] = "name"
        tables[name] = entry
    views = load_yaml(settings.home / "config" / "store_docs.yaml").get("views") or {}
    for view, doc in views.items():       # the analyst views (sql/views.sql)
        tables[view] = {k: v for k, v in doc.items() if k in ("description", "facets")}
    return {
        "title": "riskmodels: AI-stack concentration and antitrust risk",
        "description": ("The published risk store, read-only. Shares in percent (0-100), HHI and MHHI in "
                        "points (0-10,000), money in USD bn, compute in H100e. Every figure traces to its "
                        "source rows (source_refs, market_share_facts)."),
        "source": "riskmodels: every figure cites its source rows (market_share_facts, source_refs)",
        "databases": {DATABASE: {"tables": tables,
                                 "queries": {k: {"title": q["title"], "description": q["description"],
                                                 "sql": q["sql"].strip()} for k, q in queries.items()}}},
    }


def write_metadata(path: Path, settings: Settings | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(datasette_metadata(settings), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def sqlite_path(settings: Settings | None = None) -> Path:
    """The SQLite file of the store (Datasette serves SQLite only)."""
    settings = settings or get_settings()
    url = settings.db_url
    if not url.startswith("sqlite:///"):
        raise ValueError(f"riskmodels serve: the store is {url.split(':', 1)[0]}, not SQLite; connect a BI tool "
                         "with the read-only riskmodels_analyst role instead (README, 'Browse and query')")
    return Path(url[len("sqlite:///"):])


def serve_command(host: str = "127.0.0.1", port: int = 8001, settings: Settings | None = None) -> list[str]:
    """The ``datasette serve`` command line: immutable database, metadata written under var/."""
    settings = settings or get_settings()
    db = sqlite_path(settings)
    if not db.exists():
        raise FileNotFoundError(f"riskmodels serve: no store at {db}; run `make run` first")
    meta = write_metadata(settings.var / "datasette" / "metadata.json", settings)
    exe = Path(sys.executable).with_name("datasette")
    # --immutable opens the file read-only (no writes, no journal); the database is named DATABASE
    return [str(exe) if exe.exists() else "datasette", "serve", "--immutable", str(db), "--host", host,
            "--port", str(port), "--metadata", str(meta), "--setting", "sql_time_limit_ms", "5000",
            "--setting", "default_page_size", "100"]


def snapshot(settings: Settings | None = None) -> Path:
    """A consistent copy of the store for Datasette (SQLite's online backup, so rows a running
    pipeline holds in its write-ahead log are included and a writer is never blocked for long):
    ``<var>/datasette/riskmodels.db``. Datasette opens it immutable; rerun ``make serve`` to refresh."""
    import sqlite3

    settings = settings or get_settings()
    db = sqlite_path(settings)
    if not db.exists():
        raise FileNotFoundError(f"riskmodels serve: no store at {db}; run `make run` first")
    out = settings.var / "datasette" / f"{DATABASE}.db"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    os.replace(tmp, out)
    return out


def serve(host: str = "127.0.0.1", port: int = 8001, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    copy = snapshot(settings)
    cmd = serve_command(host, port, settings)
    cmd[cmd.index(str(sqlite_path(settings)))] = str(copy)
    print(f"riskmodels store, read-only: http://{host}:{port}/{DATABASE}  (a snapshot of {sqlite_path(settings)}; "
          "Ctrl-C to stop)", flush=True)
    return subprocess.call(cmd, env={**os.environ})
