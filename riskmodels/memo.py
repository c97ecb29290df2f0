"""Derived frames kept across processes, keyed by everything they are computed from.

A pure step whose inputs did not change since an earlier run (the same Epoch releases, the same
registry, the same config and code) is read back instead of computed again: the daily run with
unchanged inputs, a rerun, a backfill. Records live under the storage root
(``memo/<kind>/<sha256>.memo``), so every worker sees the ones another wrote; a record is never
changed once written (its name is the hash of its key), and writes are atomic
(:func:`riskmodels.storage.write_bytes`).

A record holds a ``{name: DataFrame}`` as data only, never code: one file with a JSON header and
one Parquet payload per frame. Typed columns (numbers, ``str``, booleans, datetimes) go to
Parquet and come back with their dtype; ``object`` columns go to the header as JSON values tagged
by Python type (None, bool, int, float incl. NaN, str, ``datetime.date``, ``pd.Timestamp``), so a
frame reads back equal, cell types and None-versus-NaN included. A frame with any other cell type
is not kept. A record that does not parse is ignored and the value computed again.

The key must name every input: :func:`frame_digest` for frames, :func:`file_digest` for
config and data files, :func:`code_digest` for the modules that compute the value.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Settings, get_settings

log = logging.getLogger(__name__)


class NotKept(ValueError):
    """A value the record format cannot hold exactly (it is then computed every time)."""


def _cell(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return {"i": int(v)} if isinstance(v, np.integer) else v
    if isinstance(v, (float, np.floating)):
        return {"f": repr(float(v))} if isinstance(v, np.floating) or not np.isfinite(v) else v
    if isinstance(v, pd.Timestamp):
        return {"t": v.isoformat()}
    if isinstance(v, dt.datetime):
        return {"dt": v.isoformat()}
    if isinstance(v, dt.date):
        return {"d": v.isoformat()}
    raise NotKept(f"a cell of type {type(v).__name__}")


def _uncell(v):
    if not isinstance(v, dict):
        return v
    (tag, x), = v.items()
    return {"i": lambda: np.int64(x), "f": lambda: float(x), "t": lambda: pd.Timestamp(x),
            "dt": lambda: dt.datetime.fromisoformat(x), "d": lambda: dt.date.fromisoformat(x)}[tag]()


def _encode(frames: dict) -> bytes:
    """``{name: DataFrame}`` -> one record (see the module docstring)."""
    header, blobs = {}, []
    for name, df in frames.items():
        if not isinstance(df, pd.DataFrame):
            raise NotKept(f"{name} is not a frame")
        obj = [i for i, t in enumerate(df.dtypes) if t == object]
        typed = df.drop(columns=[df.columns[i] for i in obj])
        typed.columns = [f"c{i}" for i in range(len(df.columns)) if i not in obj]
        buf = io.BytesIO()
        typed.to_parquet(buf, index=True)
        blobs.append(buf.getvalue())
        header[name] = {"columns": [str(c) for c in df.columns], "dtypes": [str(t) for t in df.dtypes],
                        "objects": {str(i): [_cell(v) for v in df.iloc[:, i].tolist()] for i in obj},
                        "bytes": len(blobs[-1])}
        if list(map(str, df.columns)) != list(df.columns):
            raise NotKept(f"{name} has column names that are not text")
    head = json.dumps(header, allow_nan=False).encode()
    return len(head).to_bytes(8, "big") + head + b"".join(blobs)


def _decode(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "big")
    header, pos, out = json.loads(data[8:8 + n]), 8 + n, {}
    for name, h in header.items():
        typed = pd.read_parquet(io.BytesIO(data[pos:pos + h["bytes"]]))
        pos += h["bytes"]
        cols = {}
        for i, (c, t) in enumerate(zip(h["columns"], h["dtypes"])):
            if str(i) in h["objects"]:
                cols[c] = pd.Series([_uncell(v) for v in h["objects"][str(i)]], index=typed.index, dtype=object)
            else:
                col = typed[f"c{i}"]
                cols[c] = col if str(col.dtype) == t else col.astype(t)
        out[name] = pd.DataFrame(cols, index=typed.index) if cols else pd.DataFrame(index=typed.index)
    return out


#: records kept in this process (most recently used last)
_LOCAL: OrderedDict = OrderedDict()
LOCAL_SIZE = 16
_CODE: dict[tuple, str] = {}


def frame_digest(frame: pd.DataFrame | None) -> str:
    """sha256 of a frame's columns, dtypes and values (row order counts; the index does not)."""
    if frame is None:
        return "none"
    h = hashlib.sha256(json.dumps([list(map(str, frame.columns)), list(map(str, frame.dtypes))]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes ("missing" when it does not exist)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return "missing"


def code_digest(*modules: str) -> str:
    """sha256 of the source files of ``modules`` (paths relative to the riskmodels package,
    folders for every ``.py`` file below them), computed once per process."""
    if modules not in _CODE:
        base = Path(__file__).parent
        h = hashlib.sha256()
        for m in modules:
            p = base / m
            for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
                h.update(str(f.relative_to(base)).encode())
                h.update(f.read_bytes())
        _CODE[modules] = h.hexdigest()
    return _CODE[modules]


def key(*parts) -> str:
    """The record name for ``parts`` (JSON-serialisable values, dates and numbers as text)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _path(kind: str, digest: str, settings: Settings):
    from . import storage

    return storage.path("memo", kind, f"{digest}.memo", settings=settings)


def get(kind: str, digest: str, settings: Settings | None = None) -> dict | None:
    """The ``{name: DataFrame}`` recorded for ``digest``, or None: this process's copy first,
    then storage. Each call returns fresh frames (a caller may change what it gets)."""
    settings = settings or get_settings()
    local = (settings.storage_url, kind, digest)      # each storage root keeps its own records
    if local in _LOCAL:
        _LOCAL.move_to_end(local)
        return _decode(_LOCAL[local])
    try:
        data = _path(kind, digest, settings).read_bytes()
        value = _decode(data)
    except FileNotFoundError:                                  # never recorded
        return None
    except Exception as exc:  # noqa: BLE001 - unreadable or altered: computed again
        log.warning("memo record %s/%s not used: %s", kind, digest[:12], exc)
        return None
    _remember(local, data)
    return value


def put(kind: str, digest: str, frames: dict, settings: Settings | None = None) -> None:
    """Record ``frames`` (``{name: DataFrame}``) for ``digest``, in this process and under the
    storage root; frames the format cannot hold exactly are not kept (logged)."""
    from . import storage

    settings = settings or get_settings()
    try:
        data = _encode(frames)
    except NotKept as exc:
        log.warning("memo %s not kept: %s", kind, exc)
        return
    storage.write_bytes(_path(kind, digest, settings), data)
    _remember((settings.storage_url, kind, digest), data)


def _remember(local: tuple, data: bytes) -> None:
    _LOCAL[local] = data
    while len(_LOCAL) > LOCAL_SIZE:
        _LOCAL.popitem(last=False)


def clear_local() -> None:
    """Forget this process's copies (benchmarks, tests)."""
    _LOCAL.clear()
