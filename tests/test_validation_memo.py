"""A validation outcome is recorded under the storage root and reused by the next process for
the same bytes, suite, registries, modes and code: GX is not imported when nothing is new; a
changed input, or expired Data Docs, is validated again (issue 19, the daily run people wait for)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import ROOT
from riskmodels import storage

SCRIPT = """
import datetime as dt, json, sys
from riskmodels import pipeline
day = dt.date(2026, 11, 24)
refs = [pipeline.ingest(n, day) for n in pipeline.datasets()]
summary = pipeline.validate(refs, day)
print(json.dumps({"datasets": summary["datasets"], "data_docs": summary.get("data_docs"),
                  "gx_imported": "great_expectations" in sys.modules}, default=str))
"""


def _validate_in_a_new_process() -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_next_process_reuses_recorded_outcomes_without_gx_and_revalidates_when_docs_expire(workspace):
    first = _validate_in_a_new_process()
    assert first["gx_imported"] and first["data_docs"]
    assert not any(s.get("reused") for s in first["datasets"].values())
    memo = list((workspace / "gx" / "memo").glob("*.json"))
    assert len(memo) == len(first["datasets"])                         # one record per dataset

    second = _validate_in_a_new_process()
    assert not second["gx_imported"]                                    # nothing new: GX never started
    assert all(s["reused"] and s["success"] for s in second["datasets"].values())
    for name, s in first["datasets"].items():                           # the same outcome, counts and all
        assert {k: v for k, v in second["datasets"][name].items() if k not in ("seconds", "reused")} == \
            {k: v for k, v in s.items() if k != "seconds"}

    from riskmodels import store

    rows = store.read_sql("SELECT dataset, data_docs, evaluated FROM validation_results")
    assert len(rows) == len(first["datasets"])                          # the rerun's rows replace the day's
    assert set(rows["data_docs"]) == {first["data_docs"]}              # pointing at the docs that hold it

    # the Data Docs expire (cleanup): the record no longer stands, GX validates again
    shutil.rmtree(storage.local_path(storage.from_url(first["data_docs"])).parent)
    third = _validate_in_a_new_process()
    assert third["gx_imported"] and not any(s.get("reused") for s in third["datasets"].values())
    assert third["data_docs"] != first["data_docs"]


def test_a_record_is_tied_to_the_validation_code(workspace, monkeypatch):
    from riskmodels import validate

    key = ("sha", "csv", "suite", "reg", "{}", "sqlite://", "file:///x")
    a = validate._memo_path(key, validate.get_settings())
    monkeypatch.setitem(validate._FINGERPRINT, "fp", "other code")
    b = validate._memo_path(key, validate.get_settings())
    assert a != b and a.parent == b.parent


FRAME_SCRIPT = """
import datetime as dt, json, sys
from pathlib import Path
from riskmodels.sources.feeds.daily import SUITE, items_frame
from riskmodels.sources.feeds.parse import parse_feed
from riskmodels.validate import validate_frame
raw = Path("data/recorded/feeds/ftc_press-release-competition.xml").read_bytes()
frame = items_frame(parse_feed(raw, "ftc"))
if sys.argv[1] == "bad":
    frame.loc[0, ["published", "date"]] = None      # an item without a date
res = validate_frame(frame, SUITE, dt.date(2026, 12, int(sys.argv[2])), location="feed:ftc", key_column="guid")
print(json.dumps({"result": res, "gx_imported": "great_expectations" in sys.modules}, default=str))
"""


def _frame_in_a_new_process(kind: str, day: int) -> dict:
    out = subprocess.run([sys.executable, "-c", FRAME_SCRIPT, kind, str(day)], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_source_frames_outcome_is_reused_by_the_next_process(workspace):
    """validate_frame (a feed document's items) records its outcome by the frame's bytes, suite
    and code: the same document the next day is not checked again (GX not imported), and its
    validation_results row is recorded for that day with the same outcome, a failing one included."""
    from riskmodels import store

    for kind in ("good", "bad"):
        first, second = _frame_in_a_new_process(kind, 1), _frame_in_a_new_process(kind, 2)
        assert first["gx_imported"] and not second["gx_imported"]
        assert second["result"] == first["result"]
        assert first["result"]["success"] is (kind == "good")
    assert len(second["result"]["bad_keys"]) == 1
    rows = store.read_sql("SELECT run_date, success, details, sha256 FROM validation_results "
                          "WHERE dataset = 'feed_items' ORDER BY run_date, success")
    assert len(rows) == 4 and rows.groupby("sha256")["run_date"].nunique().eq(2).all()
    assert rows.groupby("sha256")["details"].nunique().eq(1).all()      # the day after: the same findings
