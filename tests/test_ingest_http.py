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
                status, delay, body = steps.pop(0) if len(steps) > 1 else steps[0]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
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
    assert result["rows"]["markets"] == len(markets) and result["rows"]["concentration"] >= 38
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
    assert "expect_column_to_exist on column 'market_id'" in str(info.value)
