"""The fuzz harness (bench/fuzz_inputs.py) on 300 hostile cases with a fixed seed: no traceback,
no partial store, every rejected dataset quarantined and recorded."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT
from riskmodels.pipeline import datasets


def test_300_hostile_cases_end_named_and_leave_the_store_whole(tmp_path):
    out = tmp_path / "fuzz"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "fuzz_inputs.py"), "--cases", "300", "--seed", "2026",
                           "--workers", "2", "--out", str(out)], capture_output=True, text=True, timeout=3000)
    assert (out / "results.json").exists(), proc.stderr[-4000:]
    doc = json.loads((out / "results.json").read_text())
    s = doc["summary"]
    print(f"\nfuzz: {s['cases']} cases in {s['seconds']} s: {s['outcomes']}, store {s['states']}")
    assert s["cases"] == 300
    assert s["unhandled"] == [], s["unhandled"]
    assert s["partial_states"] == [], s["partial_states"]
    assert s["rejected_not_quarantined"] == []
    assert proc.returncode == 0, proc.stderr[-4000:]
    # the harness is not vacuous: both outcomes, every dataset, many kinds of damage
    assert s["outcomes"].get("published", 0) > 30 and s["outcomes"].get("DataQualityError", 0) > 30
    cases = doc["cases"]
    assert len({c["dataset"] for c in cases}) == len(datasets())  # every dataset of config/sources.yaml
    assert len({c["kind"] for c in cases}) >= 12
    assert {c["state"] for c in cases if c["outcome"] == "published"} == {"complete_new"}
    assert {c["state"] for c in cases if c["outcome"] != "published"} == {"previous"}
