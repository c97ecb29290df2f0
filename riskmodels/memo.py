"""Derived frames kept across processes, keyed by everything they are computed from.

A pure step whose inputs did not change since an earlier run (the same Epoch releases, the same
registry, the same config and code) is read back instead of computed again: the daily run with
unchanged inputs, a rerun, a backfill. Records live under the storage root
(``memo/<kind>/<sha256>.pkl``), so every worker sees the ones another wrote; a record is never
changed once written (its name is the hash of its key), and writes are atomic
(:func:`riskmodels.storage.write_bytes`). Records are pickles of frames, read back with a
restricted unpickler (:data:`ALLOWED`: the pandas, numpy and pyarrow constructors a frame needs,
nothing that imports, opens or runs anything else), so a record someone altered under the storage
root cannot execute code: it fails to load and the value is computed again. A value whose pickle
needs anything else is not kept. Raw inputs are never unpickled.

The key must name every input: :func:`frame_digest` for frames, :func:`file_digest` for
config and data files, :func:`code_digest` for the modules that compute the value.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import pickle
from collections import OrderedDict
from pathlib import Path

import pandas as pd

from .config import Settings, get_settings

log = logging.getLogger(__name__)

#: the only globals a record may name: what pickled frames of numbers, text and dates are built
#: from (each a constructor of data, never a reader, importer or evaluator)
ALLOWED = frozenset({
    ("builtins", "slice"), ("datetime", "date"), ("datetime", "datetime"), ("datetime", "timedelta"),
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy._core.numeric", "_frombuffer"),
    ("pandas", "DataFrame"), ("pandas", "Series"), ("pandas", "Index"), ("pandas", "RangeIndex"),
    ("pandas", "StringDtype"), ("pandas.arrays", "ArrowStringArray"), ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.indexes.base", "_new_Index"), ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.internals.managers", "SingleBlockManager"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
    ("pyarrow.lib", "_restore_array"), ("pyarrow.lib", "py_buffer"), ("pyarrow.lib", "type_for_alias"),
})


class _Restricted(pickle.Unpickler):
    """Unpickles only :data:`ALLOWED` globals (Python docs, pickle: "Restricting Globals")."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"memo record names {module}.{name}, which a record may not")
        return super().find_class(module, name)


def _loads(data: bytes):
    return _Restricted(io.BytesIO(data)).load()


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

    return storage.path("memo", kind, f"{digest}.pkl", settings=settings)


def get(kind: str, digest: str, settings: Settings | None = None):
    """The value recorded for ``digest``, or None: this process's copy first, then storage.
    Each call returns a fresh copy (a caller may change what it gets)."""
    settings = settings or get_settings()
    local = (settings.storage_url, kind, digest)      # each storage root keeps its own records
    if local in _LOCAL:
        _LOCAL.move_to_end(local)
        return _loads(_LOCAL[local])
    try:
        data = _path(kind, digest, settings).read_bytes()
        value = _loads(data)
    except FileNotFoundError:                                  # never recorded
        return None
    except Exception as exc:  # noqa: BLE001 - unreadable or altered: computed again
        log.warning("memo record %s/%s not used: %s", kind, digest[:12], exc)
        return None
    _remember(local, data)
    return value


def put(kind: str, digest: str, value, settings: Settings | None = None) -> None:
    """Record ``value`` for ``digest`` (in this process and under the storage root)."""
    from . import storage

    settings = settings or get_settings()
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        _loads(data)                                   # a record the restricted reader could not read is not kept
    except pickle.UnpicklingError as exc:
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
