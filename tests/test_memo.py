"""riskmodels.memo: records are data only (JSON + Parquet), read back equal (cell types and
None-versus-NaN included), each caller gets its own copy, and a record that does not parse (or
a pickle put in its place) is ignored, never executed."""
from __future__ import annotations

import datetime as dt
import os
import pickle

import numpy as np
import pandas as pd

from riskmodels import memo


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_frames_read_back_equal_and_an_altered_record_runs_nothing(workspace, tmp_path):
    frame = pd.DataFrame({
        "id": pd.Series(["a", "b", None], dtype="str"), "share_pct": [30.0, np.nan, 1.5],
        "votes": pd.Series([0.25, None, np.nan], dtype=object), "ref_row": pd.Series([3, None, 7], dtype=object),
        "day": [dt.date(2026, 12, 1), None, dt.date(2025, 1, 2)], "flag": [True, False, True],
        "when": pd.to_datetime(["2026-12-01", None, "2026-01-01"]), "n": np.array([1, 2, 3], dtype=np.int64)},
        index=pd.RangeIndex(3))
    key = memo.key("test", 1)
    memo.put("test", key, {"f": frame, "empty": frame.iloc[0:0]}, None)
    memo.clear_local()
    got = memo.get("test", key)
    pd.testing.assert_frame_equal(got["f"], frame)
    pd.testing.assert_frame_equal(got["empty"], frame.iloc[0:0])
    for col in ("votes", "ref_row", "day"):                   # each object cell keeps its Python type
        assert [type(v) for v in got["f"][col]] == [type(v) for v in frame[col]], col
    got["f"].loc[0, "share_pct"] = 0.0                        # a caller's copy, not the record
    assert memo.get("test", key)["f"].loc[0, "share_pct"] == 30.0
    # someone replaces the record with a pickle that would run a command: it is never unpickled
    marker = tmp_path / "ran"
    path = workspace / "memo" / "test" / f"{key}.memo"
    path.write_bytes(pickle.dumps(_Evil(marker)))
    memo.clear_local()
    assert memo.get("test", key) is None and not marker.exists()
    # a value the format cannot hold exactly is not kept
    memo.put("test", memo.key("test", 2), {"f": pd.DataFrame({"x": [object()]})}, None)
    assert not (workspace / "memo" / "test" / f"{memo.key('test', 2)}.memo").exists()
