"""riskmodels.memo: records read back equal, each caller gets its own copy, and an altered
record cannot run code (the restricted unpickler refuses it and the value is computed again)."""
from __future__ import annotations

import os
import pickle

import pandas as pd

from riskmodels import memo


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_record_reads_back_and_an_altered_one_runs_nothing(workspace, tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "share_pct": [30.0, None], "day": [pd.Timestamp("2026-12-01").date()] * 2})
    key = memo.key("test", 1)
    memo.put("test", key, {"f": frame, "n": 2}, None)
    memo.clear_local()
    got = memo.get("test", key)
    pd.testing.assert_frame_equal(got["f"], frame)
    got["f"].loc[0, "share_pct"] = 0.0                      # a caller's copy, not the record
    assert memo.get("test", key)["f"].loc[0, "share_pct"] == 30.0
    # someone replaces the record with a pickle that would run a command
    marker = tmp_path / "ran"
    path = workspace / "memo" / "test" / f"{key}.pkl"
    path.write_bytes(pickle.dumps(_Evil(marker)))
    memo.clear_local()
    assert memo.get("test", key) is None and not marker.exists()
    # and a value whose pickle would need such a global is never written
    memo.put("test", memo.key("test", 2), _Evil(marker), None)
    assert not (workspace / "memo" / "test" / f"{memo.key('test', 2)}.pkl").exists() and not marker.exists()
