"""One storage root for everything a task hands to the next: landing blobs, staged score
frames, reports and Data Docs.

``RISKMODELS_STORAGE_URL`` names it (default ``file://<RISKMODELS_VAR>``, the local ``var/``).
Every access goes through a universal-pathlib path over fsspec: Airflow's ``ObjectStoragePath``
inside Airflow (tasks, where it reports lineage) and for any URL naming an Airflow connection;
``upath.UPath`` (which ObjectStoragePath extends) for the CLI on a URL that names none, so a
``riskmodels`` command does not import Airflow (1.3 s) to read a local folder. A shared mount
(``file:///mnt/riskmodels``) or a bucket (``s3://aws_default@bucket/riskmodels``: the user part
is the Airflow connection id) works unchanged, and a task on one Celery worker reads what a task
on another host wrote. Nothing a later task needs lives only on a worker's local disk.

Layout under the root::

    landing/blobs/<sha256[:2]>/<sha256>.<format>   raw inputs, one copy per content hash
    staging/<run_date>/<run_id>/<table>.parquet    scores between the score and publish tasks
    reports/report-<run_date>.html                 the HTML report of each run date
    gx/data_docs/index.html, runs/<run_id>/...     Great Expectations Data Docs, one folder per run
    gx/memo/<sha256>.json                          validation outcomes by bytes, suite and code
    memo/<kind>/<sha256>.memo                      derived frames by their inputs (riskmodels.memo)

Writes are atomic: on a local or mounted file system the bytes go to a unique ``.part`` file
that is then renamed over the target (a reader never sees half a file, two writers of the same
blob never interleave); on object stores a single PUT is already atomic.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from pathlib import Path

from .config import Settings, get_settings, load_yaml

log = logging.getLogger(__name__)


def _path(url: str):
    """``url`` as a path object: Airflow's ``ObjectStoragePath`` when Airflow is already imported
    (inside a task) or the URL names a connection (``s3://conn_id@bucket/...``), else ``UPath``."""
    import sys
    from urllib.parse import urlsplit

    if "airflow.sdk" in sys.modules or "@" in urlsplit(url).netloc:
        from airflow.sdk import ObjectStoragePath

        from .config import airflow_logs_to_stderr

        airflow_logs_to_stderr()
        return ObjectStoragePath(url)
    from upath import UPath

    return UPath(url)


def root(settings: Settings | None = None):
    """The storage root as a path object (:func:`_path`)."""
    settings = settings or get_settings()
    return _path(settings.storage_url)


def path(*parts: str, settings: Settings | None = None):
    """A path under the storage root (``path("landing", "blobs")``)."""
    p = root(settings)
    for part in parts:
        p = p / part
    return p


def from_url(url: str):
    """The path object of a URL stored in a reference (``raw_inputs.landing_path``, XCom)."""
    return _path(url if "://" in url else Path(url).resolve().as_uri())


def safe_name(text: str) -> str:
    """``text`` usable as one path segment (run ids carry ``:`` and ``+``)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def is_local(p) -> bool:
    return (p.protocol or "file") in ("file", "local")


def local_path(p) -> Path:
    """The local file-system path of a ``file://`` storage path (for browsers and error messages)."""
    if not is_local(p):
        raise ValueError(f"{p} is not on the local file system")
    return Path(p.path)


def write_bytes(p, data: bytes) -> None:
    """Write ``data`` to ``p`` atomically (see the module docstring); parents are created."""
    if is_local(p):
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.parent / f"{p.name}.{uuid.uuid4().hex}.part"
        tmp.write_bytes(data)
        os.replace(tmp.path, p.path)
    else:
        p.write_bytes(data)


def write_text(p, text: str) -> None:
    write_bytes(p, text.encode("utf-8"))


def remove(p, recursive: bool = False) -> None:
    """Remove a file or (with ``recursive``) a folder; a missing path is not an error."""
    try:
        p.fs.rm(p.path, recursive=recursive)
    except FileNotFoundError:
        pass


def remove_empty_parent(p) -> None:
    """Remove ``p``'s parent folder if it is empty (local file systems; object stores have no folders)."""
    if is_local(p):
        try:
            os.rmdir(p.parent.path)
        except OSError:
            pass


def mtime(info: dict) -> float | None:
    """Modification time (epoch seconds) from an fsspec ``info`` dict of any backend."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        v = info.get(key)
        if v is None:
            continue
        if isinstance(v, dt.datetime):
            return v.timestamp()
        if isinstance(v, str):
            try:
                return dt.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
        return float(v)
    return None


def files(p) -> dict[str, dict]:
    """Every file below ``p`` (recursive) as {path: fsspec info}; empty if ``p`` does not exist."""
    try:
        found = p.fs.find(p.path, detail=True)
    except FileNotFoundError:
        return {}
    return {k: v for k, v in found.items() if v.get("type", "file") == "file"}


def size_bytes(p) -> int:
    """Total size of the files below ``p``."""
    return int(sum(int(v.get("size") or 0) for v in files(p).values()))


def storage_config(settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return load_yaml(settings.home / "config" / "storage.yaml")


def cleanup(settings: Settings | None = None, now: float | None = None, max_age_hours: float | None = None) -> dict:
    """Remove what no run will read again once it is older than ``orphan_max_age_hours``
    (config/storage.yaml): staging folders left by runs that never published (a published
    run removes its own at once), interrupted ``.part`` writes, landing blobs that no
    ``raw_inputs`` row references, and Data Docs run folders older than ``data_docs_keep_days``
    (the Data Docs index is rebuilt), and memo records (riskmodels.memo) older than
    ``memo.keep_days``. Returns counts and bytes removed per kind."""
    from . import store

    settings = settings or get_settings()
    cfg = storage_config(settings)
    now = time.time() if now is None else now
    max_age = 3600.0 * float(cfg["orphan_max_age_hours"] if max_age_hours is None else max_age_hours)
    out = {"staging": [0, 0], "partial": [0, 0], "orphan_blobs": [0, 0], "data_docs_runs": [0, 0]}

    def old(info: dict) -> bool:
        t = mtime(info)
        return t is not None and now - t > max_age

    base = root(settings)
    # interrupted atomic writes anywhere
    for name, info in files(base).items():
        if name.endswith(".part") and old(info):
            base.fs.rm(name)
            out["partial"][0] += 1
            out["partial"][1] += int(info.get("size") or 0)
    # staging folders (run_date/run_id) whose newest file is old
    staging = base / "staging"
    by_run: dict[str, list] = {}
    for name, info in files(staging).items():
        rel = name[len(staging.path):].strip("/").split("/")
        if len(rel) >= 3:
            by_run.setdefault("/".join(rel[:2]), []).append(info)
    for run, infos in by_run.items():
        if all(old(i) for i in infos):
            remove(staging / run, recursive=True)
            out["staging"][0] += 1
            out["staging"][1] += sum(int(i.get("size") or 0) for i in infos)
    # landing blobs nobody references
    blobs = files(base / "landing" / "blobs")
    if blobs:
        used = set(store.read_sql("SELECT DISTINCT landing_path FROM raw_inputs", settings=settings)["landing_path"])
        used_paths = {from_url(u).path for u in used if isinstance(u, str)}
        for name, info in blobs.items():
            if name not in used_paths and not name.endswith(".part") and old(info):
                base.fs.rm(name)
                out["orphan_blobs"][0] += 1
                out["orphan_blobs"][1] += int(info.get("size") or 0)
    # derived frames kept across processes (riskmodels.memo) past their retention
    keep = 86400.0 * float((cfg.get("memo") or {}).get("keep_days", 7))
    out["memo"] = [0, 0]
    for name, info in files(base / "memo").items():
        t = mtime(info)
        if t is not None and now - t > keep:
            base.fs.rm(name)
            out["memo"][0] += 1
            out["memo"][1] += int(info.get("size") or 0)
    # Data Docs run folders past their retention
    from . import datadocs

    removed = datadocs.expire(settings, now=now, keep_days=float(cfg["data_docs_keep_days"]))
    out["data_docs_runs"] = [removed["runs"], removed["bytes"]]
    return {k: {"removed": v[0], "bytes": v[1]} for k, v in out.items()}
