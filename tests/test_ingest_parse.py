"""Unusable files are data failures: each kind is named with its line (and column where known),
and through the pipeline it is landed, quarantined, recorded and alerted, exit code 2, with the
published scores intact."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from conftest import ROOT, write_sources
from riskmodels import pipeline, storage, store
from riskmodels.ingest import InputFormatError, parse

REF = {"dataset": "markets", "location": "markets.csv", "format": "csv"}
HEADER = (ROOT / "data" / "markets.csv").read_bytes().split(b"\n", 1)[0]


@pytest.mark.parametrize("raw, problem, line, column, words", [
    (b"", "empty", None, None, "the file is empty"),
    (b"  \n\n", "empty", None, None, "the file is empty"),
    (b"a,b\n1,\x002\n", "binary", 2, "b", "NUL bytes"),
    ("a,b\n1,caf\u00e9\n".encode("latin-1"), "encoding", 2, "b", "not valid UTF-8"),
    (b'a,b\n1,"unclosed\n', "truncated", 2, None, "never closed"),
    (b"a,b,c\n1,2,3\n4,5\n", "truncated", 3, None, "has 2 where the header has 3"),
    (b"a,b\n1,2\n3,4,5\n", "malformed", 3, None, "extra fields"),
    (b"a,b,a\n1,2,3\n", "header", 1, "a", "duplicate column name"),
    (b"a,,c\n1,2,3\n", "header", 1, None, "header field 2 has no name"),
    (b"<!doctype html><html><title>Sign in</title></html>", "html", None, None, "HTML page titled 'Sign in'"),
    (b'[{"a": 1}]', "wrong_format", None, None, "the body is JSON, not CSV"),
])
def test_each_unusable_file_is_named(raw, problem, line, column, words):
    with pytest.raises(InputFormatError) as info:
        parse(raw, REF)
    e = info.value
    assert (e.problem, e.line, e.column) == (problem, line, column) and words in str(e)
    assert str(e).startswith("markets (markets.csv): ")


def test_valid_variants_parse_the_same():
    plain = parse(b"a,b\n1,x y\n", REF)
    for raw in (b"\xef\xbb\xbfa,b\n1,x y\n", b"a,b\r\n1,x y\r\n", b"a,b\n1,x y"):   # BOM, CRLF, no final newline
        assert parse(raw, REF).to_dict("records") == plain.to_dict("records")
    assert parse(b'a,b\n1,"two\nlines"\n', REF)["b"].tolist() == ["two\nlines"]
    assert len(parse(HEADER + b"\n", REF)) == 0                       # header only: zero rows, valid structure


def test_a_truncated_file_is_quarantined_and_alerted_and_yesterday_stays(workspace, tmp_path):
    env = {**os.environ}
    exe = [sys.executable, "-m", "riskmodels.cli", "run"]
    assert subprocess.run(exe + ["--date", "2026-11-23"], env=env, capture_output=True, timeout=600).returncode == 0
    before = store.read_sql("SELECT * FROM concentration ORDER BY market_id, period")
    raw = (ROOT / "data" / "market_shares.csv").read_bytes()
    cut = tmp_path / "market_shares.csv"
    cut.write_bytes(raw[: len(raw) // 2])                            # cut in the middle of a row
    env["RISKMODELS_SOURCES"] = str(write_sources(tmp_path, {"market_shares": str(cut)}))
    out = subprocess.run(exe + ["--date", "2026-11-24"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 2, out.stderr[-3000:]
    assert "market_shares" in out.stderr and "not usable CSV (truncated)" in out.stderr and "line" in out.stderr
    assert "Traceback" not in out.stderr
    d = dt.date(2026, 11, 24)
    raw_row = store.read_sql("SELECT status, landing_path FROM raw_inputs WHERE dataset = 'market_shares' "
                             "AND run_date = :d", {"d": d})
    assert raw_row.status.item() == "quarantined"
    assert storage.from_url(raw_row.landing_path.item()).read_bytes() == raw[: len(raw) // 2]
    val = store.read_sql("SELECT success, mode FROM validation_results WHERE dataset = 'market_shares' AND "
                         "run_date = :d", {"d": d})
    assert val.success.item() == 0 and val["mode"].item() == "parse"
    digest = (workspace / "outbox" / "digest-2026-11-24.eml").read_text()
    assert "dataset-failed-validation" in digest and "market_shares" in digest
    after = store.read_sql("SELECT * FROM concentration ORDER BY market_id, period")
    assert after.equals(before)
    assert pipeline.run_status(store.read_sql("SELECT run_id FROM pipeline_runs WHERE run_date = :d",
                                              {"d": d}).run_id.item()) == "failed_validation"
