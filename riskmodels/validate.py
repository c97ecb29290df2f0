"""Validate landed datasets with Great Expectations (GX Core 1.x).

One suite per dataset, stored as JSON in ``expectations/<suite>.json`` and loaded from there.
A suite's ``meta`` declares which columns are numbers, dates and periods; before GX runs,
:func:`prepare_frame` converts them and adds a ``__bad_<column>`` column holding the raw text
of every cell that failed to convert, so a suite can state "no unparseable values" with
``expect_column_values_to_be_null`` and GX reports the offending rows. ``group_sums`` adds
per-group totals (e.g. the shares of one market-period) for range expectations.

Every process validates in its own ephemeral GX context built from the suite files (the JSON
in ``expectations/`` stays the only source of truth; nothing GX keeps is shared between
processes, so concurrent runs, backfills and workers cannot disturb each other). Results go to
the ``validation_results`` table and to per-run Data Docs in the storage root
(:mod:`riskmodels.datadocs`).

A landed file that cannot be parsed (empty, binary, wrongly encoded, truncated, an HTML page...)
fails like an expectation: it is quarantined, recorded and alerted. A failed *critical*
expectation raises :class:`DataQualityError` naming the dataset, the file, the expectation, the
column and example rows; warnings are recorded only.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from . import store
from .checks import run_checks
from .config import Settings, get_settings, validation_config
from .dates import DATE_RE, PERIOD_RE, date_end, period_end
from .ingest import InputFormatError, read_landed

log = logging.getLogger(__name__)

MAX_EXAMPLES = 5


class DataQualityError(RuntimeError):
    """A dataset failed a critical expectation. ``failures`` lists the details."""

    def __init__(self, message: str, failures: list[dict]):
        super().__init__(message)
        self.failures = failures


def suite_path(name: str, settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return settings.expectations_dir / f"{name}.json"


def load_suite_dict(name: str, settings: Settings | None = None) -> dict:
    """The suite's JSON document (``name``, ``expectations``, ``meta``)."""
    with suite_path(name, settings).open(encoding="utf-8") as f:
        return json.load(f)


def load_suite(name: str, settings: Settings | None = None):
    """A ``gx.ExpectationSuite`` built from ``expectations/<name>.json``."""
    import great_expectations as gx

    doc = load_suite_dict(name, settings)
    doc.pop("id", None)
    return gx.ExpectationSuite(**doc)


INTEGER_RE = r"^[+-]?\d{1,18}$"


def cusip_check_digit(base: str) -> int:
    """The ninth character of a CUSIP from its first eight (the CUSIP Global Services modulus-10
    "double add double"): digits as themselves, A-Z as 10-35, * @ # as 36-38; every second value
    doubled; the digits of the products summed."""
    total = 0
    for i, ch in enumerate(base.upper()):
        v = int(ch) if ch.isdigit() else (ord(ch) - 55 if "A" <= ch <= "Z" else {"*": 36, "@": 37, "#": 38}.get(ch, -1))
        if v < 0:
            raise ValueError(f"not a CUSIP character: {ch!r}")
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return (10 - total % 10) % 10


def valid_cusip(code: str) -> bool:
    code = (code or "").strip().upper()
    if len(code) != 9 or not code[8].isdigit():
        return False
    try:
        return cusip_check_digit(code[:8]) == int(code[8])
    except ValueError:
        return False


def prepare_frame(raw: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Typed copy of a raw (all-text) frame for validation and scoring.

    Numeric columns become float; ``__bad_<col>`` keeps the raw text where a non-empty cell
    is not a finite number, not a whole number (``integer_columns``, which stay text: they are
    row references), not a ``YYYY[-MM[-DD]]`` date or not a period label. A cell holding only
    whitespace is empty. Missing columns are left missing (``expect_column_to_exist`` reports them),
    except ``optional_columns``, which are added empty.
    """
    df = raw.copy()
    for col in meta.get("optional_columns", []):   # a column older files may lack: empty (unknown) there
        if col not in df.columns:
            df[col] = None
    for col in df.columns:
        if col != "_row" and (df[col].dtype == object or pd.api.types.is_string_dtype(df[col])):
            text = df[col].astype("string")
            blank = text.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
            if blank.any():
                df[col] = df[col].where(~blank, None)
    for col in meta.get("numeric_columns", []):
        if col in df.columns:
            text = df[col].astype("string").str.strip()
            num = pd.to_numeric(text, errors="coerce").astype(float)
            ok = np.isfinite(num.to_numpy(dtype=float))
            df[f"__bad_{col}"] = text.where(text.notna() & ~ok).astype(object)
            df[col] = num.where(ok)
    for col in meta.get("integer_columns", []):
        if col in df.columns:
            text = df[col].astype("string").str.strip()
            bad = text.notna() & ~text.str.fullmatch(INTEGER_RE).fillna(False).astype(bool)
            df[f"__bad_{col}"] = text.where(bad).astype(object)
    for col in meta.get("cusip_list_columns", []):   # ";"-separated CUSIPs, each with a valid check digit
        if col in df.columns:
            text = df[col].astype("string").str.strip()
            codes = text.str.split(";").explode().dropna()
            check = {c: valid_cusip(c) for c in codes.unique()}      # once per distinct code
            ok = codes.map(check).astype(bool).groupby(level=0).all()
            bad = text.notna() & ~ok.reindex(text.index, fill_value=True).astype(bool)
            df[f"__bad_{col}"] = text.where(bad).astype(object)
    for col in meta.get("date_columns", []):
        if col in df.columns:
            text = df[col].astype("string").str.strip()
            bad = text.notna() & (~text.str.fullmatch(DATE_RE).fillna(False).astype(bool) | date_end(text).isna())
            df[f"__bad_{col}"] = text.where(bad).astype(object)
    for col in meta.get("period_columns", []):
        if col in df.columns:
            text = df[col].astype("string").str.strip()
            bad = text.notna() & (~text.str.fullmatch(PERIOD_RE).fillna(False).astype(bool) | period_end(text).isna())
            df[f"__bad_{col}"] = text.where(bad).astype(object)
    for spec in meta.get("group_sums", []):
        if spec["column"] in df.columns and all(c in df.columns for c in spec["by"]):
            df[spec["name"]] = df.groupby(spec["by"], dropna=False)[spec["column"]].transform("sum")
    for col in df.columns:
        if col.startswith("__bad_"):
            df[col] = df[col].where(df[col].notna(), None)
    return df


_CONTEXT: dict = {}


def _context():
    """This process's ephemeral GX context (in-memory stores; a Data Docs site whose folder each
    run points at a temporary directory of its own, see :mod:`riskmodels.datadocs`)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    from .datadocs import SITE, site_config

    if "ctx" not in _CONTEXT:
        cfg = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
                                data_docs_sites={SITE: site_config(tempfile.gettempdir())})
        ctx = gx.get_context(mode="ephemeral", project_config=cfg)
        ctx.variables.progress_bars = {"globally": False}
        _CONTEXT["ctx"] = ctx
    return _CONTEXT["ctx"]


REGISTRY_TEXT = {"entity_ids": "ids not in the entity registry", "market_ids": "ids not in the market list"}


def registry_flags(frame: pd.DataFrame, meta: dict, params: dict) -> pd.DataFrame:
    """Add ``__unregistered_<col>`` (the ids of the cell not in their registry, else None) for the
    suite's ``registry_columns`` (one id per cell, ``{column: "entity_ids" | "market_ids"}``) and
    ``id_list_columns`` (";"-separated entity ids). A suite then states "every id is known" as
    ``expect_column_values_to_be_null`` on the derived column: one vectorised membership test
    instead of a value set of every registered id inside each GX expectation."""
    frame = frame.copy()
    for col, registry in meta.get("registry_columns", {}).items():
        if col in frame.columns:
            if params.get(registry) is None:  # the registry itself did not parse: reported there
                frame[f"__unregistered_{col}"] = None
                continue
            known = pd.Index(params[registry])
            cell = frame[col]
            frame[f"__unregistered_{col}"] = cell.where(cell.notna() & ~cell.isin(known)).astype(object)
    known = set(params["entity_ids"] or [])
    for col in meta.get("id_list_columns", []):
        if col in frame.columns:  # ";"-separated entity ids (small tables: regulatory events)
            if params.get("entity_ids") is None:
                frame[f"__unregistered_{col}"] = None
                continue
            ids = frame[col].fillna("").astype(str).str.split(";")
            unknown = ids.map(lambda xs: ";".join(x for x in xs if x and x not in known) or None)
            frame[f"__unregistered_{col}"] = unknown.astype(object)
    for col in frame.columns:
        if col.startswith("__unregistered_"):
            frame[col] = frame[col].where(frame[col].notna(), None)
    return frame


def _labels(meta: dict) -> dict[str, str]:
    """How derived columns are named in messages."""
    labels = {g["name"]: f"sum of {g['column']} per {' + '.join(g['by'])}" for g in meta.get("group_sums", [])}
    labels.update({f"__unregistered_{c}": REGISTRY_TEXT[r] for c, r in meta.get("registry_columns", {}).items()})
    labels.update({f"__unregistered_{c}": REGISTRY_TEXT["entity_ids"] for c in meta.get("id_list_columns", [])})
    return labels


def _shown(column, labels: dict[str, str]):
    """The column as an analyst reads it (derived helper columns named after their source)."""
    if isinstance(column, str) and column.startswith("__bad_"):
        return column.removeprefix("__bad_")
    if isinstance(column, str) and column in labels:
        return f"{column.removeprefix('__unregistered_')} ({labels[column]})"
    return column


def _plain(v):
    return v.item() if hasattr(v, "item") else v


_CHECKPOINTS: dict = {}


def _checkpoint(ctx, source, name: str, suite_name: str, settings: Settings):
    """The GX checkpoint of one dataset: suite, batch definition and validation definition are
    (re)registered once per process and suite version (the suite file's bytes), then reused."""
    import great_expectations as gx

    key = (name, suite_name, suite_path(suite_name, settings).read_bytes())
    if key in _CHECKPOINTS:
        return _CHECKPOINTS[key]
    suite = ctx.suites.add_or_update(load_suite(suite_name, settings))
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        batch_def = asset.get_batch_definition("whole")
    except (KeyError, LookupError, ValueError):
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
    vd = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{name}__{suite_name}", data=batch_def, suite=suite))
    checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
        name=f"riskmodels__{name}", validation_definitions=[vd], actions=[],
        result_format={"result_format": "SUMMARY", "unexpected_index_column_names": ["_row"],
                       "partial_unexpected_count": MAX_EXAMPLES}))
    _CHECKPOINTS[key] = checkpoint
    return checkpoint


def _describe_check(f: dict, dataset: str, ref: dict, labels: dict[str, str]) -> dict:
    """A :func:`riskmodels.checks.run_checks` failure in the same shape as :func:`_describe`."""
    kwargs = {k: v for k, v in f["kwargs"].items() if k not in ("batch_id", "value_set")}
    column = kwargs.get("column") or kwargs.get("column_list")
    return {"dataset": dataset, "file": ref["location"], "landing_path": ref["path"], "expectation": f["type"],
            "column": _shown(column, labels), "severity": str(f["severity"]).lower(),
            "unexpected_count": f["unexpected_count"], "kwargs": kwargs, "checked_by": "pandas (every row)",
            "observed_value": f.get("observed_value"),
            "examples": [{"row": _plain(e["row"]), "values": {k: _plain(v) for k, v in e["values"].items()}}
                         for e in f["examples"]]}


def _describe(er, dataset: str, ref: dict, labels: dict[str, str]) -> dict:
    cfg = er.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id", "value_set")}
    column = kwargs.get("column") or kwargs.get("column_list")
    shown = _shown(column, labels)
    res = er.result or {}
    examples = []
    for item in (res.get("partial_unexpected_index_list") or [])[:MAX_EXAMPLES]:
        item = {k: (v.item() if hasattr(v, "item") else v) for k, v in item.items()}
        row = item.pop("_row", None)
        examples.append({"row": row, "values": item})
    if er.exception_info and er.exception_info.get("raised_exception"):
        examples.append({"row": None, "values": {"error": er.exception_info.get("exception_message")}})
    elif isinstance(er.exception_info, dict):
        for info in er.exception_info.values():
            if isinstance(info, dict) and info.get("raised_exception"):
                examples.append({"row": None, "values": {"error": info.get("exception_message")}})
                break
    observed = res.get("observed_value")
    return {"dataset": dataset, "file": ref["location"], "landing_path": ref["path"], "expectation": cfg.type,
            "column": shown, "severity": str(getattr(cfg, "severity", "critical")).split(".")[-1].lower(),
            "unexpected_count": res.get("unexpected_count"), "examples": examples, "kwargs": kwargs,
            "observed_value": observed if isinstance(observed, (int, float, str, type(None))) else str(observed)}


def _format(f: dict) -> str:
    if f["column"] is None and f["expectation"].startswith("expect_table_"):
        bounds = ", ".join(f"{k}={v}" for k, v in f["kwargs"].items() if v is not None)
        return (f"  - {f['expectation']}: the file has {f.get('observed_value', '?')} data row(s) ({bounds})"
                + ("; the run cannot proceed without them" if f.get("observed_value") == 0 else ""))
    col = f["column"] if not isinstance(f["column"], list) else "+".join(f["column"])
    derived = f["kwargs"].get("column", "") if f["expectation"] == "expect_column_values_to_be_null" else ""
    what = ("unparseable or out-of-range values in" if derived.startswith("__bad_") else
            "unknown ids in" if derived.startswith("__unregistered_") else f["expectation"] + " on")
    head = f"  - {what} column {col!r}: {f['unexpected_count'] if f['unexpected_count'] is not None else '?'} bad row(s)"
    def value(k, v):
        return f"{k.removeprefix('__bad_').removeprefix('__unregistered_')}={v!r}"

    ex = "; ".join((f"row {e['row']} (line {e['row'] + 1}): " if e["row"] is not None else "")
                   + ", ".join(value(k, v) for k, v in e["values"].items()) for e in f["examples"])
    return head + (f"; e.g. {ex}" if ex else "")


def _format_file_failure(f: dict) -> str:
    return f"  - the landed file is not usable {f['format'].upper()} ({f['problem']}): {f['message']}"


def _file_failure(exc: InputFormatError, ref: dict) -> dict:
    """A parse failure in the shape of an expectation failure (``validation_results.details``)."""
    return {"dataset": ref["dataset"], "file": ref["location"], "landing_path": ref["path"],
            "expectation": f"file_is_valid_{ref['format']}", "column": exc.column, "severity": "critical",
            "unexpected_count": None, "kwargs": {}, "problem": exc.problem, "format": ref["format"],
            "message": str(exc), "checked_by": "parser",
            "examples": [{"row": exc.row, "line": exc.line, "values": {"problem": exc.problem}}]
            if exc.row or exc.line else []}


#: In-process memo of validation outcomes (see :func:`validate_refs`), newest last.
_MEMO: "OrderedDict[tuple, dict]" = OrderedDict()
MEMO_SIZE = 512


def _memo_key(ref: dict, suite_doc_bytes: bytes, meta: dict, params: dict, vcfg: dict, settings: Settings) -> tuple:
    """Everything a dataset's validation outcome depends on: its bytes, format, suite version,
    the registries its suite checks ids against and the validation modes; and the store and
    storage root its result and Data Docs live in."""
    used = sorted({*meta.get("registry_columns", {}).values(), *(["entity_ids"] if meta.get("id_list_columns") else [])})
    reg = hashlib.sha256(json.dumps({k: params[k] for k in used}, default=str).encode()).hexdigest()
    return (ref["sha256"], ref["format"], hashlib.sha256(suite_doc_bytes).hexdigest(), reg,
            json.dumps(vcfg, sort_keys=True, default=str), settings.db_url, settings.storage_url)


_FINGERPRINT: dict = {}


def _code_fingerprint() -> str:
    """The validation code's version: the bytes of the modules an outcome is computed by, and
    the installed GX version (read from its metadata: GX itself is not imported)."""
    if "fp" not in _FINGERPRINT:
        from importlib.metadata import version

        h = hashlib.sha256(version("great_expectations").encode())
        for mod in ("validate.py", "checks.py", "datadocs.py", "dates.py", "ingest.py"):
            h.update((Path(__file__).parent / mod).read_bytes())
        _FINGERPRINT["fp"] = h.hexdigest()
    return _FINGERPRINT["fp"]


def _memo_path(key: tuple, settings: Settings):
    """Where the outcome for ``key`` is kept under the storage root (``gx/memo/<sha256>.json``)."""
    from . import storage

    digest = hashlib.sha256(json.dumps([*key, _code_fingerprint()]).encode()).hexdigest()
    return storage.path("gx", "memo", f"{digest}.json", settings=settings)


def _memo_get(key: tuple, settings: Settings) -> dict | None:
    """A recorded outcome for ``key``: this process's memo first, then the one kept in storage
    by an earlier process (valid only while the Data Docs it points at exist)."""
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    from . import storage

    p = _memo_path(key, settings)
    try:
        m = json.loads(p.read_text())
    except (FileNotFoundError, ValueError):   # never validated, or a file no writer finished
        return None
    docs = m["row"].get("data_docs")
    if docs and not storage.from_url(docs).exists():   # Data Docs expired: validate again
        return None
    _MEMO[key] = m
    return m


def _memo_put(key: tuple, m: dict, settings: Settings) -> None:
    from . import storage

    _MEMO[key] = m
    while len(_MEMO) > MEMO_SIZE:
        _MEMO.popitem(last=False)
    # numpy scalars as numbers, dates as ISO text (a reuse sets its own run date)
    storage.write_text(_memo_path(key, settings), json.dumps(m, default=lambda o: o.item() if hasattr(o, "item")
                                                            else str(o)))


def validate_refs(refs: list[dict], run_date: dt.date, run_id: str | None = None,
                  settings: Settings | None = None) -> dict:
    """Validate every landed dataset in ``refs`` with its suite.

    Records one ``validation_results`` row per dataset and builds this run's Data Docs. A file
    that does not parse, or a failed critical expectation, marks that raw input ``quarantined``;
    after validating *all* datasets (so one message lists every problem) DataQualityError is
    raised.

    The outcome of a dataset whose bytes, suite, registries, validation modes and validation
    code are unchanged is reused instead of validated again: within one process, and across
    processes through a record under the storage root (``gx/memo/``; a backfill, a rerun of the
    day or the next day's run validates each distinct input once, and GX is not even imported
    when nothing is new). Its ``validation_results`` row then points at the Data Docs of the run
    that validated it (``reused`` in the summary); when those Data Docs have expired the
    dataset is validated again.

    Returns a JSON-able summary ``{dataset: {success, evaluated, failed_critical, ...}}``.
    """

    settings = settings or get_settings()
    t0 = time.perf_counter()
    frames, unparsed = {}, {}
    for r in refs:
        try:
            frames[r["dataset"]] = read_landed(r)
        except InputFormatError as exc:
            unparsed[r["dataset"]] = _file_failure(exc, r)

    def ids(dataset: str, column: str) -> list[str] | None:
        if dataset in unparsed:
            return None  # the registry did not parse: its own failure says so, nothing else is blamed
        frame = frames.get(dataset)
        if frame is None or column not in frame.columns:
            return []  # that dataset's own suite reports the missing column
        return sorted(frame[column].dropna().unique().tolist())

    params = {"entity_ids": ids("entities", "entity_id"), "market_ids": ids("markets", "market_id")}
    gx_params = {k: (v if v is not None else []) for k, v in params.items()}
    gx_state: dict = {}

    def gx_source():
        """This process's GX context and pandas data source, started on the first dataset that
        needs GX (none when every outcome is recorded)."""
        if not gx_state:
            ctx = _context()
            try:
                source = ctx.data_sources.get("riskmodels")
            except (KeyError, ValueError):
                source = ctx.data_sources.add_pandas("riskmodels")
            gx_state.update(ctx=ctx, source=source)
        return gx_state["ctx"], gx_state["source"]

    vcfg = validation_config(settings)
    summary, failures, rows, result_ids, fresh = {}, [], [], [], {}
    for ref in refs:
        t_ds = time.perf_counter()
        name = ref["dataset"]
        if name in unparsed:
            f = unparsed[name]
            failures.append(f)
            summary[name] = {"success": False, "evaluated": 0, "failed_critical": 1, "failed_warning": 0, "rows": 0,
                             "sha256": ref["sha256"], "mode": "parse", "gx_rows": 0, "problem": f["problem"],
                             "seconds": round(time.perf_counter() - t_ds, 3)}
            rows.append({"run_date": run_date, "dataset": name, "sha256": ref["sha256"], "suite": ref["suite"],
                         "success": False, "evaluated": 0, "failed_critical": 1, "failed_warning": 0, "rows": 0,
                         "details": json.dumps([f], default=str), "data_docs": None, "mode": "parse", "gx_rows": 0})
            store.set_raw_input_status(ref, "quarantined", settings)
            continue
        suite_bytes = suite_path(ref["suite"], settings).read_bytes()
        doc = json.loads(suite_bytes)
        key = _memo_key(ref, suite_bytes, doc.get("meta", {}), params, vcfg, settings)
        m = _memo_get(key, settings)
        if m is not None:
            failures.extend(m["crit"])
            summary[name] = dict(m["summary"], sha256=ref["sha256"], reused=True,
                                 seconds=round(time.perf_counter() - t_ds, 3))
            rows.append(dict(m["row"], run_date=run_date))
            store.set_raw_input_status(ref, "quarantined" if m["crit"] else "validated", settings)
            continue
        frame = prepare_frame(frames[name], doc.get("meta", {}))
        frame = registry_flags(frame, doc.get("meta", {}), params)
        ctx, source = gx_source()
        checkpoint = _checkpoint(ctx, source, name, ref["suite"], settings)
        labels = _labels(doc.get("meta", {}))
        gx_frame, mode, full = frame, "gx_full", None
        if len(frame) > vcfg["gx_full_max_rows"]:
            # large frame: every row through the vectorised checks, a representative sample through GX
            mode = "pandas_full+gx_sample"
            full = run_checks(frame, doc, gx_params, MAX_EXAMPLES)
            flagged = np.unique(np.concatenate([f["rows"] for f in full] + [np.zeros(0, dtype=np.int64)]))
            pick = np.random.default_rng(vcfg["sample_seed"]).choice(
                len(frame), size=min(vcfg["gx_sample_rows"], len(frame)), replace=False)
            gx_frame = frame.iloc[np.union1d(flagged[: vcfg["flagged_max"]], pick)]
        result = checkpoint.run(batch_parameters={"dataframe": gx_frame}, expectation_parameters=gx_params)
        result_ids.extend(result.run_results)
        vr = next(iter(result.run_results.values()))
        failed = [_describe(er, name, ref, labels) for er in vr.results if not er.success]
        if full is not None:
            # counts and examples from the full frame; a GX-only failure is kept as GX reports it
            by_pandas = [_describe_check(f, name, ref, labels) for f in full]
            seen = {(f["expectation"], json.dumps(f["kwargs"], sort_keys=True, default=str)) for f in by_pandas}
            failed = by_pandas + [dict(f, checked_by=f"GX (sample of {len(gx_frame)} rows)") for f in failed
                                  if (f["expectation"], json.dumps(f["kwargs"], sort_keys=True, default=str)) not in seen]
        crit = [f for f in failed if f["severity"] == "critical"]
        warn = [f for f in failed if f["severity"] != "critical"]
        failures.extend(crit)
        summary[name] = {"success": not crit, "evaluated": len(vr.results), "failed_critical": len(crit),
                         "failed_warning": len(warn), "rows": int(len(frame)), "sha256": ref["sha256"],
                         "mode": mode, "gx_rows": int(len(gx_frame)), "seconds": round(time.perf_counter() - t_ds, 3)}
        rows.append({"run_date": run_date, "dataset": name, "sha256": ref["sha256"], "suite": ref["suite"],
                     "success": not crit, "evaluated": len(vr.results), "failed_critical": len(crit),
                     "failed_warning": len(warn), "rows": int(len(frame)),
                     "details": json.dumps(crit + warn, default=str), "data_docs": None,
                     "mode": mode, "gx_rows": int(len(gx_frame))})
        fresh[key] = {"crit": crit, "summary": {k: v for k, v in summary[name].items() if k != "seconds"},
                      "row": rows[-1]}
        store.set_raw_input_status(ref, "quarantined" if crit else "validated", settings)
    # Data Docs: this run's results, built once into a folder of its own
    from .datadocs import publish_run

    docs_run = run_id or f"adhoc__{run_date.isoformat()}__{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}"
    docs = publish_run(gx_state["ctx"], result_ids, docs_run, run_date, summary, settings) if result_ids else None
    for key, m in fresh.items():
        m["row"]["data_docs"] = docs
        _memo_put(key, m, settings)
    store.record_validation(rows, settings)
    seconds = round(time.perf_counter() - t0, 4)
    if failures:
        bad = sorted({f["dataset"] for f in failures})
        lines = [f"Validation failed for {', '.join(bad)} (run date {run_date}); nothing was published "
                 f"and the raw files stay quarantined in landing."]
        for ds in bad:
            ref = next(r for r in refs if r["dataset"] == ds)
            lines.append(f"{ds} ({ref['location']}, landed as {ref['path']}):")
            lines.extend(_format_file_failure(f) if "problem" in f else _format(f)
                         for f in failures if f["dataset"] == ds)
        message = "\n".join(lines)
        if run_id:
            store.record_run(run_id, run_date, "failed_validation", {r["dataset"]: r["sha256"] for r in refs},
                             {"validate": seconds}, message=message, settings=settings)
        raise DataQualityError(message, failures)
    return {"datasets": summary, "seconds": seconds, "data_docs": docs}


def validate_frame(frame: pd.DataFrame, suite_name: str, run_date: dt.date, run_id: str | None = None,
                   settings: Settings | None = None, location: str | None = None,
                   key_column: str = "accession", extra_failures: list[dict] | None = None) -> dict:
    """Validate an in-memory frame (a source adapter's parsed records, cells as text) with the
    suite ``suite_name`` through GX, and every row through the vectorised checks to name the
    failing rows. Records one ``validation_results`` row (dataset = suite name, sha256 of the
    frame's CSV). Returns ``{"success", "failures", "bad_keys": {key: reason}}``: the values of
    ``key_column`` (e.g. the accession) of every failing row with the first reason, or of every
    row for a table-level failure. ``extra_failures`` (e.g. filings that did not parse) are
    recorded with the same row, so the digest lists them."""
    settings = settings or get_settings()
    doc = load_suite_dict(suite_name, settings)
    meta = doc.get("meta", {})
    typed = prepare_frame(frame.reset_index(drop=True).assign(_row=lambda d: np.arange(1, len(d) + 1)), meta)
    typed = registry_flags(typed, meta, {"entity_ids": [], "market_ids": []})
    sha = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    ref = {"dataset": suite_name, "location": location or suite_name, "path": None, "sha256": sha}
    # the same frame under the same suite and code has the same outcome: recorded under the
    # storage root like a dataset's (gx/memo/), so an unchanged feed document is not checked again
    memo_key = ("frame", suite_name, sha, hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest(),
                location or suite_name, key_column, json.dumps(extra_failures or [], sort_keys=True, default=str),
                settings.db_url, settings.storage_url)
    m = _memo_get(memo_key, settings)
    if m is not None:
        store.record_validation([dict(m["row"], run_date=run_date)], settings)
        return dict(m["result"])
    ctx = _context()
    try:
        source = ctx.data_sources.get("riskmodels")
    except (KeyError, ValueError):
        source = ctx.data_sources.add_pandas("riskmodels")
    labels = _labels(meta)
    vr = next(iter(_checkpoint(ctx, source, suite_name, suite_name, settings).run(
        batch_parameters={"dataframe": typed}).run_results.values()))
    failed = [_describe(er, suite_name, ref, labels) for er in vr.results if not er.success]
    crit = [f for f in failed if f["severity"] == "critical"]
    bad_keys: dict[str, str] = {}
    if crit:
        for f in run_checks(typed, doc, {}, MAX_EXAMPLES):
            if str(f["severity"]).lower() != "critical":
                continue
            col = f["kwargs"].get("column") or f["kwargs"].get("column_list")
            rows = f["rows"] if len(f["rows"]) or f["unexpected_count"] is not None else np.arange(len(typed))
            reason = f"{f['type']} on {_shown(col, labels)}"
            for i in rows:
                i = int(i)
                key = str(typed[key_column].iloc[i]) if key_column in typed else None
                value = f" (value {typed[col].iloc[i]!r})" if isinstance(col, str) and col in typed else ""
                bad_keys.setdefault(key, f"row {i + 1}: {reason}{value}")
        if not bad_keys and key_column in typed:  # a failure GX alone saw: the whole batch is suspect
            bad_keys = {str(k): "; ".join(f"{f['expectation']} on {f['column']}" for f in crit)
                        for k in typed[key_column].dropna().unique()}
        for f in crit:
            f["message"] = (f"{suite_name}: {f['expectation']} on {f['column']} ({f['unexpected_count']} rows); "
                            f"quarantined: {', '.join(sorted(bad_keys)[:10])}")
    details = crit + [f for f in failed if f["severity"] != "critical"] + list(extra_failures or [])
    success = not crit and not any(f.get("severity") == "critical" for f in extra_failures or [])
    row = {"run_date": run_date, "dataset": suite_name, "sha256": sha, "suite": suite_name,
           "success": success, "evaluated": len(vr.results), "failed_critical": len(crit)
           + len(extra_failures or []), "failed_warning": len(failed) - len(crit),
           "rows": int(len(frame)), "details": json.dumps(details, default=str),
           "data_docs": None, "mode": "gx_full", "gx_rows": int(len(frame))}
    store.record_validation([row], settings)
    result = {"success": success, "failures": crit, "bad_keys": bad_keys, "sha256": sha}
    _memo_put(memo_key, {"row": {k: v for k, v in row.items() if k != "run_date"},
                    "result": json.loads(json.dumps(result, default=str))}, settings)
    return result
