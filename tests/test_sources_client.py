"""The one fetch-and-land client against the replay server with EDGAR's URL layout, misbehaving:
429 with Retry-After, 503, timeouts, truncated bodies, HTML error pages; conditional GET, gzip,
the rate limit and the declared identity."""
from __future__ import annotations

import gzip
import hashlib
import json
import time

import pytest

from conftest import ROOT
from riskmodels import storage, store
from riskmodels.sources.client import FetchClient, FetchError, RateLimiter, retry_after_seconds

MSFT = "https://data.sec.gov/submissions/CIK0000789019.json"
GOOGL_FACTS = "https://data.sec.gov/api/xbrl/companyfacts/CIK0001652044.json"
LTS = "https://www.sec.gov/Archives/edgar/data/1894188/000189418823000007/0001894188-23-000007.txt"
REC = ROOT / "data" / "recorded" / "sec"


def client(server, **kw) -> FetchClient:
    args = {"family": "test-sec", "user_agent": "riskmodels tests tests@example.org", "per_second": None,
            "timeout": 2.0, "retries": 3, "backoff": 0.05, "max_backoff": 5.0}
    return FetchClient(**{**args, **kw}, rewrite=server.rewrite, served_by="replay")


def test_a_recorded_file_is_served_at_its_real_url_landed_and_logged(replay, workspace):
    r = client(replay).get(LTS)
    raw = (REC / "13f/0001894188-23-000007_lts-one_13F-HR_2023Q3.txt").read_bytes()
    assert r.status == 200 and r.body == raw and r.sha256 == hashlib.sha256(raw).hexdigest()
    assert storage.from_url(r.landing_path).read_bytes() == raw
    log = store.read_sql("SELECT url, status, sha256, served_by, fetched_at FROM fetch_log")
    assert log.to_dict("records")[0] | {"fetched_at": None} == {"url": LTS, "status": 200, "sha256": r.sha256,
                                                                 "served_by": "replay", "fetched_at": None}
    assert replay.requests[-1]["headers"]["User-Agent"] == "riskmodels tests tests@example.org"


def test_429_with_retry_after_then_503_then_success(replay, workspace):
    replay.misbehave(MSFT, ("status", 429, {"Retry-After": "1"}), ("status", 503, {}))
    t0 = time.monotonic()
    r = client(replay).get(MSFT)
    assert r.status == 200 and r.attempts == 3 and replay.hits[MSFT] == 3
    assert time.monotonic() - t0 >= 1.0                              # Retry-After was honoured
    assert json.loads(r.body)["cik"] == "0000789019"


def test_timeouts_and_truncated_bodies_are_retried(replay, workspace):
    replay.misbehave(LTS, ("delay", 3.0), ("truncate", 500))
    r = client(replay, timeout=0.5).get(LTS)
    assert r.status == 200 and r.attempts == 3 and len(r.body) == (REC / "13f/0001894188-23-000007_lts-one_13F-HR_2023Q3.txt").stat().st_size


def test_an_html_error_page_is_retried_and_a_source_that_stays_down_raises(replay, workspace):
    replay.misbehave(MSFT, ("html", 503))
    assert client(replay).get(MSFT).status == 200
    replay.misbehave(LTS, *[("html", 502)] * 5)
    with pytest.raises(FetchError, match="HTTP 502 after 2 retries"):
        client(replay, retries=2).get(LTS)
    failed = store.read_sql("SELECT status, error, sha256 FROM fetch_log WHERE url = :u", {"u": LTS})
    assert failed.status.tolist() == [502] and failed.sha256.isna().all()


def test_a_404_is_an_answer_landed_not_retried(replay, workspace):
    url = "https://www.sec.gov/Archives/edgar/data/1/000000000099000001/none.txt"
    r = client(replay).get(url)
    assert r.status == 404 and not r.ok and replay.hits[url] == 1 and b"Not Found" in r.body


def test_conditional_get_revalidates_with_the_etag(replay, workspace):
    c = client(replay)
    first = c.get(MSFT, conditional=True)
    second = c.get(MSFT, conditional=True)
    assert second.not_modified and second.status == 304 and second.sha256 == first.sha256 and second.body == first.body
    assert replay.requests[-1]["headers"].get("If-None-Match") == first.etag
    assert len(store.read_sql("SELECT * FROM fetch_log WHERE url = :u", {"u": MSFT})) == 2


def test_gzip_on_the_wire_lands_the_decoded_body(replay, workspace):
    r = client(replay).get(GOOGL_FACTS)
    assert r.body == gzip.decompress((REC / "xbrl/companyfacts_CIK0001652044_GOOGL.full.json.gz").read_bytes())
    assert replay.requests[-1]["headers"].get("Accept-Encoding", "").startswith("gzip")


def test_the_atom_feed_is_filtered_by_form_type_and_paged_like_edgar(replay, workspace):
    from riskmodels.sources.sec import Urls
    from riskmodels.sources.sec.feeds import parse_atom

    urls = Urls()
    every = parse_atom(client(replay).get(urls.getcurrent("")).body)["records"]
    assert len(every) == 100
    d13 = parse_atom(client(replay).get(urls.getcurrent("SCHEDULE 13D")).body)["records"]
    assert d13 and {r["form"] for r in d13} == {"SCHEDULE 13D/A"}
    assert parse_atom(client(replay).get(urls.getcurrent("", start=100)).body)["records"] == []


def test_the_rate_limit_spaces_requests_across_threads():
    import threading

    limiter, stamps = RateLimiter(20.0), []

    def go():
        for _ in range(5):
            limiter.wait()
            stamps.append(time.monotonic())

    t0 = time.monotonic()
    threads = [threading.Thread(target=go) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    # the i-th request, whatever its thread, is not sent before its slot t0 + i/20 s (each send
    # happens at or after its own slot, so the sorted send times dominate the sorted slots; this
    # holds however late a loaded machine wakes a thread)
    assert len(stamps) == 20
    assert all(t >= t0 + i * 0.05 - 1e-3 for i, t in enumerate(sorted(stamps))), [round(t - t0, 3) for t in sorted(stamps)]


def test_retry_after_as_seconds_or_http_date():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None


def test_a_live_run_refuses_to_start_without_an_identity(monkeypatch, workspace):
    from riskmodels.sources import sec

    monkeypatch.setenv("RISKMODELS_SOURCES_MODE", "live")
    monkeypatch.delenv("RISKMODELS_SEC_IDENTITY", raising=False)
    with pytest.raises(sec.SecConfigError, match="declared identity"):
        sec.client()
    monkeypatch.setenv("RISKMODELS_SEC_IDENTITY", "Example Research contact@example.org")
    live = sec.client()
    assert live.user_agent == "Example Research contact@example.org" and live.rewrite is None and live.per_second == 10
    monkeypatch.setenv("RISKMODELS_SOURCES_MODE", "replay")
    assert sec.client().served_by == "replay"
