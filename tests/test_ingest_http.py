"""HTTP ingestion against a real server on 127.0.0.1: retries, timeouts, JSON sources."""
from __future__ import annotations

import datetime as dt
import http.server
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, write_sources
from riskmodels import pipeline
from riskmodels.ingest import IngestError, fetch, read_landed

RUN = dt.date(2026, 11, 24)


class Server:
    """A loopback HTTP server whose answers the test scripts: a list of (status, delay, body)."""

    def __init__(self):
        self.plan: dict[str, list] = {}
        self.hits: dict[str, int] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                steps = outer.plan.get(self.path, [(404, 0, b"")])
                step = steps.pop(0) if len(steps) > 1 else steps[0]
                status, delay, body = step[:3]
                headers = dict(step[3]) if len(step) > 3 else {}
                close = headers.pop("close", False)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    # "Content-Length" in headers declares more bytes than are sent: a cut body
                    self.send_header("Content-Length", headers.pop("Content-Length", str(len(body))))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                    if close:
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_retries_transient_errors_then_succeeds(server):
    body = (ROOT / "data" / "markets.csv").read_bytes()
    server.plan["/markets.csv"] = [(503, 0, b"busy"), (502, 0, b"bad gateway"), (200, 0, body)]
    assert fetch(server.url + "/markets.csv", ROOT, timeout=5, retries=3, backoff=0.01) == body
    assert server.hits["/markets.csv"] == 3


def test_gives_up_after_bounded_retries(server):
    server.plan["/down.csv"] = [(500, 0, b"boom")]
    with pytest.raises(IngestError, match="HTTP 500 after 2 retries"):
        fetch(server.url + "/down.csv", ROOT, timeout=5, retries=2, backoff=0.01)
    assert server.hits["/down.csv"] == 3  # first try + 2 retries


def test_times_out(server):
    server.plan["/slow.csv"] = [(200, 2.0, b"a,b\n1,2\n")]
    t0 = time.perf_counter()
    with pytest.raises(IngestError, match="request failed"):
        fetch(server.url + "/slow.csv", ROOT, timeout=0.3, retries=1, backoff=0.01)
    assert server.hits["/slow.csv"] == 2
    assert time.perf_counter() - t0 < 10


def test_pipeline_ingests_csv_and_json_over_http(server, workspace, tmp_path, monkeypatch):
    shares = (ROOT / "data" / "market_shares.csv").read_bytes()
    markets = pd.read_csv(ROOT / "data" / "markets.csv", dtype=str)
    server.plan["/shares.csv"] = [(200, 0, shares)]
    server.plan["/markets.json"] = [(200, 0, markets.to_json(orient="records").encode())]
    sources = write_sources(tmp_path, {"market_shares": server.url + "/shares.csv",
                                       "markets": server.url + "/markets.json"}, formats={"markets": "json"})
    monkeypatch.setenv("RISKMODELS_SOURCES", str(sources))
    result = pipeline.run(RUN)
    # the CSV's markets plus the chip-owner market built from compute_ownership.csv
    assert result["rows"]["markets"] == len(markets) + 1 and result["rows"]["concentration"] >= 38
    ref = pipeline.ingest("markets", RUN)
    assert ref["format"] == "json" and Path(ref["path"]).suffix == ".json"
    assert read_landed(ref)["market_id"].tolist() == markets["market_id"].tolist()


def test_wrong_format_is_a_validation_error_not_a_crash(server, workspace, tmp_path, monkeypatch):
    markets = pd.read_csv(ROOT / "data" / "markets.csv", dtype=str)
    server.plan["/markets.json"] = [(200, 0, markets.to_json(orient="records").encode())]
    # served JSON but declared CSV: the parsed frame has no market_id column
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"markets": server.url + "/markets.json"})))
    with pytest.raises(Exception) as info:
        pipeline.run(RUN)
    assert type(info.value).__name__ == "DataQualityError"
    assert "markets" in str(info.value) and "the body is JSON, not CSV" in str(info.value)


def _run_with(server, tmp_path, monkeypatch, path: str, steps: list) -> pytest.ExceptionInfo:
    server.plan[path] = steps
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"market_shares": server.url + path})))
    from riskmodels.validate import DataQualityError

    with pytest.raises(DataQualityError) as info:
        pipeline.run(RUN)
    return info


@pytest.mark.parametrize("case", ["html_200", "error_404", "json_for_csv"])
def test_an_error_page_where_csv_was_declared_is_quarantined_and_alerted(case, server, workspace, tmp_path,
                                                                         monkeypatch):
    from riskmodels import store

    pipeline.run(RUN - dt.timedelta(days=1))                       # yesterday's scores must stay
    before = store.read_sql("SELECT COUNT(*) AS n FROM concentration").n.item()
    page = b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>busy</body></html>"
    steps = {"html_200": [(200, 0, page, {"Content-Type": "text/html; charset=utf-8"})],
             "error_404": [(404, 0, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})],
             "json_for_csv": [(200, 0, b'[{"market_id": "x"}]', {"Content-Type": "application/json"})]}[case]
    info = _run_with(server, tmp_path, monkeypatch, f"/{case}.csv", steps)
    msg = str(info.value)
    expected = {"html_200": "the body is an HTML page titled '503 Service Unavailable', not CSV",
                "error_404": "the source answered HTTP 404 instead of the dataset",
                "json_for_csv": "the body is JSON, not CSV"}[case]
    assert "market_shares" in msg and expected in msg
    row = store.read_sql("SELECT success, mode, details FROM validation_results WHERE dataset = 'market_shares' "
                         "AND run_date = :d", {"d": RUN})
    assert row.success.item() == 0 and row["mode"].item() == "parse" and expected in row.details.item()
    raw = store.read_sql("SELECT status, landing_path FROM raw_inputs WHERE dataset = 'market_shares' AND run_date = :d",
                         {"d": RUN})
    assert raw.status.item() == "quarantined"
    from riskmodels import storage

    assert storage.from_url(raw.landing_path.item()).read_bytes() == steps[0][2]   # the bytes are kept
    fired = store.read_sql("SELECT status FROM alert_state WHERE rule_id = 'dataset-failed-validation' AND "
                           "subject_id = 'market_shares' AND run_date = :d", {"d": RUN})
    assert fired.status.item() == "FIRING"
    assert store.read_sql("SELECT COUNT(*) AS n FROM concentration").n.item() == before


def test_a_truncated_body_is_retried_then_lands_whole(server):
    body = (ROOT / "data" / "markets.csv").read_bytes()
    server.plan["/cut.csv"] = [(200, 0, body[:100], {"Content-Length": str(len(body)), "close": True}),
                               (200, 0, body)]
    assert fetch(server.url + "/cut.csv", ROOT, timeout=5, retries=2, backoff=0.01) == body
    assert server.hits["/cut.csv"] == 2


def test_429_with_retry_after_is_honoured(server):
    body = b"a,b\n1,2\n"
    server.plan["/limited.csv"] = [(429, 0, b"slow down", {"Retry-After": "1"}), (200, 0, body)]
    t0 = time.perf_counter()
    assert fetch(server.url + "/limited.csv", ROOT, timeout=5, retries=2, backoff=0.01) == body
    assert time.perf_counter() - t0 >= 0.9 and server.hits["/limited.csv"] == 2


def test_a_source_that_stays_down_is_an_operational_failure_with_exit_code_4(server, workspace, tmp_path):
    import os
    import subprocess
    import sys

    server.plan["/down.csv"] = [(503, 0, b"down")]
    sources = write_sources(tmp_path, {"markets": server.url + "/down.csv"})
    out = subprocess.run([sys.executable, "-m", "riskmodels.cli", "run", "--date", str(RUN)],
                         env={**os.environ, "RISKMODELS_SOURCES": str(sources)}, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 4 and "a source could not be fetched" in out.stderr and "Traceback" not in out.stderr
