"""Ingest: fetch each raw input and copy it into the immutable landing area.

Landing layout: ``<var>/landing/<run_date>/<dataset>/<sha256>.<format>``. A file there is
never overwritten: the same bytes land at the same path, different bytes at a new one, so
every score can be traced to the exact bytes it came from (``raw_inputs`` table).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import time
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from .config import Settings, get_settings, load_yaml

log = logging.getLogger(__name__)


class IngestError(RuntimeError):
    """A raw input could not be fetched or parsed."""


def load_sources(settings: Settings | None = None) -> dict:
    """The versioned sources file as a dict (``datasets``, ``http``)."""
    settings = settings or get_settings()
    cfg = load_yaml(settings.sources_file)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("datasets"), dict):
        raise IngestError(f"{settings.sources_file}: expected a mapping with a 'datasets' key")
    for name, spec in cfg["datasets"].items():
        for key in ("location", "format", "suite"):
            if key not in spec:
                raise IngestError(f"{settings.sources_file}: dataset {name!r} has no {key!r}")
        if spec["format"] not in ("csv", "json"):
            raise IngestError(f"{settings.sources_file}: dataset {name!r} format must be csv or json")
    return cfg


def fetch(location: str, base: Path, timeout: float = 10.0, retries: int = 3, backoff: float = 0.5) -> bytes:
    """Bytes of a local file (relative to ``base``) or of an http(s) URL.

    HTTP GETs time out after ``timeout`` seconds and are retried at most ``retries`` times on
    connection errors and 429/5xx answers, with exponential backoff (urllib3 ``Retry``).
    """
    scheme = urlparse(location).scheme
    if scheme in ("http", "https"):
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                      status_forcelist=(429, 500, 502, 503, 504), allowed_methods=("GET",),
                      raise_on_status=False)
        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            try:
                resp = session.get(location, timeout=timeout)
            except requests.RequestException as exc:
                raise IngestError(f"{location}: request failed after {retries} retries: {exc}") from exc
            if resp.status_code != 200:
                raise IngestError(f"{location}: HTTP {resp.status_code} after {retries} retries")
            return resp.content
    path = Path(location)
    path = path if path.is_absolute() else base / path
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read input: {exc}") from exc


def land(dataset: str, run_date: dt.date, settings: Settings | None = None) -> dict:
    """Fetch one dataset and copy its bytes into landing. Returns a small JSON-able reference
    (dataset, run_date, sha256, path, location, format, size_bytes, seconds) for XCom."""
    settings = settings or get_settings()
    t0 = time.perf_counter()
    cfg = load_sources(settings)
    if dataset not in cfg["datasets"]:
        raise IngestError(f"{settings.sources_file}: no dataset {dataset!r}")
    spec = cfg["datasets"][dataset]
    http = cfg.get("http", {})
    data = fetch(spec["location"], settings.home, timeout=float(http.get("timeout_seconds", 10)),
                 retries=int(http.get("retries", 3)), backoff=float(http.get("backoff_seconds", 0.5)))
    sha = hashlib.sha256(data).hexdigest()
    target = settings.landing_dir / run_date.isoformat() / dataset / f"{sha}.{spec['format']}"
    if target.exists():
        if hashlib.sha256(target.read_bytes()).hexdigest() != sha:
            raise IngestError(f"{target}: landing file was altered (hash mismatch); refusing to continue")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)  # atomic: a reader never sees half a file
        target.chmod(0o444)
    ref = {"dataset": dataset, "run_date": run_date.isoformat(), "sha256": sha, "path": str(target),
           "location": spec["location"], "format": spec["format"], "suite": spec["suite"],
           "known_date": list(spec.get("known_date") or []), "size_bytes": len(data),
           "seconds": round(time.perf_counter() - t0, 4)}
    from . import store  # local import: keeps ``ingest`` importable without a database

    store.record_raw_input(ref, settings=settings)
    log.info("landed %s (%d bytes, sha256 %s) at %s", dataset, len(data), sha[:12], target)
    return ref


def read_landed(ref: dict) -> pd.DataFrame:
    """Parse a landed file into a DataFrame of strings (empty cells are NA, nothing is
    converted yet) with ``_row``, the 1-based data row number in the file."""
    path = Path(ref["path"])
    raw = path.read_bytes()
    try:
        if ref["format"] == "csv":
            df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_values=[""],
                             encoding="utf-8")
        else:
            records = json.loads(raw.decode("utf-8"))
            if not isinstance(records, list):
                raise ValueError("expected a JSON list of records")
            df = pd.DataFrame.from_records(records).astype("string")
            df = df.astype(object).where(df.notna(), None)
            df = df.replace({"": None})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise IngestError(f"{ref['dataset']} ({ref['location']}): cannot parse {ref['format']}: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    df.insert(0, "_row", range(1, len(df) + 1))
    return df
