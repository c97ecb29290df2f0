"""Ingest: fetch each raw input and land its bytes, content-addressed, in the storage root.

Landing layout: ``landing/blobs/<sha256[:2]>/<sha256>.<format>`` under the storage root
(:mod:`riskmodels.storage`). One copy per content hash, whatever the date or dataset: a dataset
whose bytes did not change since yesterday adds nothing to disk, and the ``raw_inputs`` table
records which blob every run date used, so every score traces to the exact bytes it came from.
A blob is never rewritten: landing the same bytes again checks the stored copy's hash.

Landing never judges the bytes. Whether they are a usable dataset is decided by
:func:`read_landed` (called by validation): an empty, binary, wrongly encoded, truncated or
malformed file, an HTML page where CSV was declared, or an error page a server sent with a 4xx
status raises :class:`InputFormatError`, which validation records, quarantines and alerts
exactly like a failed expectation. Only a source that could not be fetched at all (connection
errors, timeouts, 429/5xx after the bounded retries, a missing local file) raises
:class:`IngestError`: that is an operational failure, worth retrying later.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from . import storage
from .config import Settings, get_settings, load_yaml

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying (the rest of 4xx is an answer: it is landed and quarantined)


class IngestError(RuntimeError):
    """A raw input could not be fetched (operational; retrying later may help)."""


class InputFormatError(IngestError):
    """Landed bytes are not a usable file of the declared format. ``problem`` names what is
    wrong; ``row``/``line``/``column`` locate it where that is known."""

    def __init__(self, message: str, problem: str, row: int | None = None, line: int | None = None,
                 column: str | None = None):
        super().__init__(message)
        self.problem, self.row, self.line, self.column = problem, row, line, column


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


@dataclass(frozen=True)
class Fetched:
    """What a fetch returned: the body, and for HTTP the final status and content type."""

    body: bytes
    status: int | None = None
    content_type: str | None = None


DEFAULT_USER_AGENT = "riskmodels (open-source AI-stack concentration monitor)"


def fetch_response(location: str, base: Path, timeout: float = 10.0, retries: int = 3,
                   backoff: float = 0.5, user_agent: str = DEFAULT_USER_AGENT) -> Fetched:
    """The body of a local file (relative to ``base``) or of an http(s) URL.

    HTTP GETs go through :class:`riskmodels.sources.client.FetchClient` (declared User-Agent):
    they time out after ``timeout`` seconds and are retried at most ``retries`` times on
    connection errors, truncated bodies and 408/429/5xx answers, with exponential backoff
    honouring Retry-After. Another status is an answer, returned with its
    body (validation quarantines it); a retryable status left after the retries raises
    :class:`IngestError`, as does a missing or unreadable local file."""
    scheme = urlparse(location).scheme
    if scheme in ("http", "https"):
        # the one fetch-and-land client of every source (riskmodels.sources.client); land()
        # lands the body and records it in raw_inputs
        from .sources.client import FetchClient

        client = FetchClient(family="datasets", user_agent=user_agent, timeout=timeout, retries=retries,
                             backoff=backoff, record=False)
        resp = client.get(location)
        return Fetched(resp.body, resp.status, resp.content_type)
    path = Path(location)
    path = path if path.is_absolute() else base / path
    try:
        return Fetched(path.read_bytes())
    except OSError as exc:
        raise IngestError(f"{path}: cannot read input: {exc}") from exc


def fetch(location: str, base: Path, timeout: float = 10.0, retries: int = 3, backoff: float = 0.5) -> bytes:
    """The bytes of ``location`` (see :func:`fetch_response`); a non-2xx HTTP answer raises IngestError."""
    got = fetch_response(location, base, timeout, retries, backoff)
    if got.status is not None and not 200 <= got.status < 300:
        raise IngestError(f"{location}: HTTP {got.status}")
    return got.body


def blob_path(sha: str, fmt: str, settings: Settings | None = None):
    """Where the bytes with this sha256 are landed (storage root)."""
    return storage.path("landing", "blobs", sha[:2], f"{sha}.{fmt}", settings=settings)


def land_bytes(data: bytes, fmt: str, settings: Settings | None = None) -> tuple[str, object]:
    """Store ``data`` content-addressed (once per sha256) and return (sha256, storage path).
    An existing blob is verified, never rewritten: different bytes there raise IngestError."""
    sha = hashlib.sha256(data).hexdigest()
    target = blob_path(sha, fmt, settings)
    if target.exists():
        if hashlib.sha256(target.read_bytes()).hexdigest() != sha:
            raise IngestError(f"{target}: landing file was altered (hash mismatch); refusing to continue")
    else:
        storage.write_bytes(target, data)
    return sha, target


def land(dataset: str, run_date: dt.date, settings: Settings | None = None) -> dict:
    """Fetch one dataset and land its bytes. Returns a small JSON-able reference (dataset,
    run_date, sha256, path: the blob's storage URL, location, format, suite, known_date,
    size_bytes, seconds, and for HTTP the status and content type) for XCom."""
    settings = settings or get_settings()
    t0 = time.perf_counter()
    cfg = load_sources(settings)
    if dataset not in cfg["datasets"]:
        raise IngestError(f"{settings.sources_file}: no dataset {dataset!r}")
    spec = cfg["datasets"][dataset]
    http = cfg.get("http", {})
    got = fetch_response(spec["location"], settings.home, timeout=float(http.get("timeout_seconds", 10)),
                         retries=int(http.get("retries", 3)), backoff=float(http.get("backoff_seconds", 0.5)),
                         user_agent=str(http.get("user_agent") or DEFAULT_USER_AGENT))
    sha, target = land_bytes(got.body, spec["format"], settings)
    ref = {"dataset": dataset, "run_date": run_date.isoformat(), "sha256": sha, "path": str(target),
           "location": spec["location"], "format": spec["format"], "suite": spec["suite"],
           "known_date": list(spec.get("known_date") or []),
           "compiled_date": dict(spec.get("compiled_date") or {}), "size_bytes": len(got.body),
           "http_status": got.status, "content_type": got.content_type,
           "seconds": round(time.perf_counter() - t0, 4)}
    from . import store  # local import: keeps ``ingest`` importable without a database

    store.record_raw_input(ref, settings=settings)
    log.info("landed %s (%d bytes, sha256 %s) at %s", dataset, len(got.body), sha[:12], target)
    return ref


# --------------------------------------------------------------------------- parsing
def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _column_at(raw: bytes, index: int) -> str | None:
    """The header name of the CSV field holding byte ``index`` (for locating a bad byte), or None."""
    try:
        header = next(csv.reader([raw[: raw.find(b"\n")].decode("utf-8", "replace")]))
        start = raw.rfind(b"\n", 0, index) + 1
        end = raw.find(b"\n", index)
        line = raw[start: end if end >= 0 else len(raw)]
        fields = next(csv.reader([line.decode("utf-8", "replace").replace("\x00", "\ufffd")]))
        pos = next(i for i, f in enumerate(fields) if "\ufffd" in f)
        return header[pos].strip() if pos < len(header) else None
    except (StopIteration, csv.Error, IndexError):
        return None


def _fail(ref: dict, problem: str, detail: str, **where) -> InputFormatError:
    loc = ""
    if where.get("line"):
        loc = f" at line {where['line']}" + (f", column {where['column']!r}" if where.get("column") else "")
    return InputFormatError(f"{ref['dataset']} ({ref['location']}): {detail}{loc}", problem, **where)


def _text(raw: bytes, ref: dict) -> str:
    """The body as text after the checks every declared format shares."""
    status = ref.get("http_status")
    if status is not None and not 200 <= int(status) < 300:
        snippet = re.sub(r"\s+", " ", raw[:300].decode("utf-8", "replace")).strip()
        raise _fail(ref, "http_error", f"the source answered HTTP {status} instead of the dataset "
                    f"({len(raw)} bytes: {snippet[:160]!r})")
    if not raw.strip():
        raise _fail(ref, "empty", f"the file is empty ({len(raw)} bytes)")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise _fail(ref, "binary", "contains NUL bytes: a binary or corrupted file, not text",
                    line=raw.count(b"\n", 0, nul) + 1,
                    column=_column_at(raw, nul) if ref["format"] == "csv" else None)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _fail(ref, "encoding", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}; "
                    "wrongly encoded, e.g. Latin-1 or Windows-1252)", line=line,
                    column=_column_at(raw, exc.start)
                    if ref["format"] == "csv" else None) from exc
    head = text.lstrip()[:2048].lower()
    ctype = (ref.get("content_type") or "").lower()
    if head.startswith(("<!doctype html", "<html")) or ("html" in ctype and ref["format"] != "json"
                                                       and head.startswith("<")):
        title = re.search(r"<title[^>]*>(.*?)</title>", text[:4096], re.I | re.S)
        what = f" titled {title.group(1).strip()[:80]!r}" if title else ""
        raise _fail(ref, "html", f"the body is an HTML page{what}, not {ref['format'].upper()} "
                    f"(an error or login page served in place of the dataset)")
    if ref["format"] == "csv" and head[:1] in ("[", "{"):
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            raise _fail(ref, "wrong_format", "the body is JSON, not CSV (the source changed its format, "
                        "or config/sources.yaml declares the wrong one)")
    return text


def _parse_csv(text: str, ref: dict) -> pd.DataFrame:
    """Strict CSV: every row has the header's number of fields, every quote is closed, the
    header names are unique and non-empty. Parsed with pyarrow (which, unlike pandas' C parser,
    rejects short and long rows instead of filling or shifting them); all cells stay text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if text.count('"') % 2:
        raise _fail(ref, "truncated", "a quoted field is never closed: the file is truncated or malformed "
                    "(the last quote is near the end)", line=_line_of(text, text.rfind('"')))
    first = next(csv.reader(io.StringIO(text[: text.find("\n") + 1 if "\n" in text else len(text)])), [])
    names = [c.strip() for c in first]
    if not names or all(not n for n in names):
        raise _fail(ref, "no_header", "has no header row", line=1)
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        raise _fail(ref, "header", f"header field {blank[0]} has no name", line=1)
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise _fail(ref, "header", f"duplicate column name(s) {dups} in the header", line=1, column=dups[0])
    bad = []

    def on_bad(row):
        bad.append((row.expected_columns, row.actual_columns, row.text))
        return "skip"

    body = text if text.endswith("\n") else text + "\n"
    try:
        table = pacsv.read_csv(
            io.BytesIO(body.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 26),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        raise _fail(ref, "malformed", f"cannot parse CSV: {exc}") from exc
    if bad:
        expected, actual, row_text = bad[0]
        idx = body.find(row_text) if row_text else -1
        line = _line_of(body, idx) if idx >= 0 else None
        short = actual < expected
        raise _fail(ref, "truncated" if short else "malformed",
                    f"{len(bad)} row(s) with the wrong number of fields; the first has {actual} where the header "
                    f"has {expected} ({'truncated or missing fields' if short else 'extra fields'})", line=line)
    return table.to_pandas().astype("str")  # pandas' default string dtype, empty cells NaN


def _parse_json(text: str, ref: dict) -> pd.DataFrame:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the body looks like CSV)" if "," in text[: text.find("\n")] and text.lstrip()[:1] not in "[{" else ""
        raise _fail(ref, "malformed", f"cannot parse JSON: {exc.msg} (column {exc.colno}){hint}",
                    line=exc.lineno) from exc
    if not isinstance(records, list):
        raise _fail(ref, "malformed", f"expected a JSON list of records, got a {type(records).__name__}")
    not_obj = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if not_obj is not None:
        raise _fail(ref, "malformed", f"record {not_obj + 1} is a {type(records[not_obj]).__name__}, not an object",
                    row=not_obj + 1)
    nested = next(((i, k) for i, r in enumerate(records) for k, v in r.items() if isinstance(v, (dict, list))), None)
    if nested is not None:
        raise _fail(ref, "malformed", f"record {nested[0] + 1} has a nested value in {nested[1]!r}",
                    row=nested[0] + 1, column=nested[1])
    df = pd.DataFrame.from_records(records)
    if len(df.columns):
        text_df = df.astype("string")
        df = text_df.astype(object).where(text_df.notna(), None).replace({"": None})
    return df


def parse(raw: bytes, ref: dict) -> pd.DataFrame:
    """Parse landed bytes into a DataFrame of strings (empty cells are None, nothing converted
    yet) with ``_row``, the 1-based data row number. Raises :class:`InputFormatError`."""
    text = _text(raw, ref)
    df = _parse_csv(text, ref) if ref["format"] == "csv" else _parse_json(text, ref)
    df.columns = [str(c).strip() for c in df.columns]
    df.insert(0, "_row", range(1, len(df) + 1))
    return df


def read_landed(ref: dict) -> pd.DataFrame:
    """The landed file of ``ref`` parsed by :func:`parse`."""
    return parse(storage.from_url(ref["path"]).read_bytes(), ref)
