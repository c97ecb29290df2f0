"""One day of SEC EDGAR end to end against the replay server: discovery, the processed-accession
table, fact rows, per-filing quarantine (parse and validation failures, with accession and
reason, in the digest), fetch failures that leave the rest published, idempotent reruns, point in
time by filing date, and the facts in the daily model (stakes, 13F holders, segment-revenue
markets, the common vs strategic MHHI delta)."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from conftest import ROOT
from riskmodels import store
from riskmodels.sources.client import FetchClient, FetchError
from riskmodels.sources.sec.daily import run_day

DAY = dt.date(2026, 12, 1)
BULL = "https://www.sec.gov/Archives/edgar/data/1790837/000179083723000002/0001790837-23-000002.txt"
AMZN = "https://www.sec.gov/Archives/edgar/data/1018724/000101872425000004/amzn-20241231.htm"
REC = ROOT / "data" / "recorded" / "sec"


def client(server) -> FetchClient:
    return FetchClient(family="test-sec-daily", user_agent="riskmodels tests tests@example.org", per_second=None,
                       timeout=2.0, retries=2, backoff=0.05, max_backoff=2.0, rewrite=server.rewrite,
                       served_by="replay")


def tables() -> dict[str, pd.DataFrame]:
    return {t: store.read_sql(f"SELECT * FROM {t}").sort_values(list(store.SEC_TABLES[t].primary_key.columns.keys()))
            .reset_index(drop=True) for t in store.SEC_TABLES}


def test_a_day_publishes_every_recorded_filing_and_a_rerun_changes_nothing(replay, workspace):
    out = run_day(DAY, http=client(replay))
    assert out["by_status"] == {"published": 8} and out["quarantined"] == [] and out["fetch_failures"] == []
    f = store.read_sql("SELECT * FROM sec_filings").set_index("accession")
    assert f.loc["0001790837-23-000002", "discovered_via"] == "seed" and f.loc["0001790837-23-000002", "form"] == "13F-HR"
    stakes = store.read_sql("SELECT * FROM sec_stakes")
    # joint filers are one stake: Marex's two persons both carry the group's 5.1%, never 10.2
    marex = stakes[stakes.issuer_name == "Jushi Holdings Inc."]
    assert len(marex) == 2 and set(marex.group_percent_of_class) == {5.1}
    livent = stakes[stakes.issuer_name == "LIVENT CORPORATION"]
    assert livent.is_exit.astype(bool).all() and (livent.group_percent_of_class == 0).all()
    h = store.read_sql("SELECT * FROM sec_holdings WHERE accession = '0001790837-23-000002'")
    assert set(h.value_unit_reported) == {"thousands"} and len(h) == 90
    mmm = h[h.cusip == "88579Y101"].iloc[0]
    assert mmm.value_usd == 287000.0 and mmm.shares == 2397
    rev = store.read_sql("SELECT * FROM sec_segment_revenue WHERE member = 'amzn:AmazonWebServicesSegmentMember'")
    by = rev.set_index(["concept", "period_end"]).value_usd
    assert by["us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax", "2024-12-31"] == 107_556_000_000
    assert by["us-gaap:OperatingIncomeLoss", "2024-12-31"] == 39_834_000_000   # for the segment margin
    so = store.read_sql("SELECT * FROM sec_shares_outstanding WHERE cik = '1652044' AND origin = 'inline' "
                        "AND concept = 'dei:EntityCommonStockSharesOutstanding'")
    assert so.shares.sum() == 5_833_000_000 + 860_000_000 + 5_497_000_000  # classes A, B, C
    before, fetched = tables(), len(store.read_sql("SELECT fetch_id FROM fetch_log"))
    again = run_day(DAY, http=client(replay))
    assert again["new"] == 0 and again["rows"]["sec_filings"] == 0
    after = tables()
    for t in before:
        pd.testing.assert_frame_equal(before[t], after[t])
    urls = store.read_sql("SELECT url, not_modified FROM fetch_log").iloc[fetched:]
    assert not urls.url.str.contains("/Archives/").any()
    assert urls[urls.url.str.contains("/submissions/CIK0000789019")].not_modified.all()


def test_a_429_is_waited_out_and_a_source_that_stays_down_leaves_the_rest_published(replay, workspace):
    replay.misbehave(AMZN, ("status", 429, {"Retry-After": "1"}))
    replay.misbehave(BULL, *[("status", 503, {})] * 3)
    with pytest.raises(FetchError, match="0001790837-23-000002|could not be fetched"):
        run_day(DAY, http=client(replay))
    f = store.read_sql("SELECT accession, status FROM sec_filings")
    assert "0001790837-23-000002" not in set(f.accession)          # not processed: the next run takes it
    assert "0001018724-25-000004" in set(f.accession)              # the 429 was retried after Retry-After
    assert len(f) == 7 and set(f.status) == {"published"}
    hits = replay.hits.get(BULL, 0)
    out = run_day(DAY, http=client(replay))                          # the source is back
    assert out["new"] == 1 and out["by_status"] == {"published": 1}
    assert replay.hits[BULL] == hits + 1


def test_a_filing_that_does_not_parse_or_validate_is_quarantined_alone_and_alerted(replay, workspace):
    from riskmodels.pipeline import alert

    replay.misbehave(AMZN, ("html", 200))  # an HTML error page served as the document
    raw = (REC / "13f" / "0001790837-23-000002_bull-street-advisors_13F-HR_2022Q4.txt").read_text()
    replay.misbehave(BULL, ("body", raw.replace("88579Y101", "88579Y109").encode(), "text/plain"))  # bad check digit
    out = run_day(DAY, http=client(replay))
    bad = {q["accession"]: q["reason"] for q in out["quarantined"]}
    assert set(bad) == {"0001018724-25-000004", "0001790837-23-000002"}
    assert "does not parse" in bad["0001018724-25-000004"] and AMZN in bad["0001018724-25-000004"]
    assert "cusip" in bad["0001790837-23-000002"] and "88579Y109" in bad["0001790837-23-000002"]
    assert out["by_status"] == {"published": 6, "quarantined": 2}
    # nothing of the quarantined filings reached the fact tables; the others did
    assert store.read_sql("SELECT COUNT(*) AS n FROM sec_holdings WHERE accession = '0001790837-23-000002'").n.item() == 0
    assert store.read_sql("SELECT COUNT(*) AS n FROM sec_holdings WHERE accession = '0001894188-23-000007'").n.item() == 14
    alert(DAY, "test-sec")
    digest = (workspace / "outbox" / f"digest-{DAY}.eml").read_text()
    assert "0001018724-25-000004" in digest and "sec_holdings" in digest


def test_filed_rows_are_point_in_time_by_filing_date(replay, workspace):
    from riskmodels.sources.sec.model import filed_rows

    run_day(DAY, http=client(replay))
    ent = pd.read_csv(ROOT / "data" / "entities.csv", dtype=str)
    early = filed_rows(dt.date(2024, 6, 1), ent)
    assert early["market_shares"].empty                     # both 10-Ks were filed in 2025
    assert set(early["institutional_holders"].ref_file) == {"0001790837-23-000002", "0001894188-23-000007"}
    one = filed_rows(dt.date(2025, 2, 6), ent)              # Alphabet filed on 02-05, Amazon on 02-07
    assert one["market_shares"].empty                       # one reporting firm is not a market share
    late = filed_rows(DAY, ent)
    ms = late["market_shares"].set_index(["period", "entity_id"])
    aws, gc = 107_556_000_000, 43_229_000_000
    assert ms.loc[("2024FY", "aws"), "share_pct"] == pytest.approx(aws / (aws + gc) * 100)
    assert set(ms.confidence) == {"filed"} and ms.loc[("2024FY", "aws"), "accession"] == "0001018724-25-000004"
    assert "reporting firms' sum" in ms.loc[("2024FY", "aws"), "notes"]
    hold = late["institutional_holders"].set_index(["holder_id", "company_id"])
    # Bull Street's Alphabet shares (classes A and C summed) over Alphabet's shares outstanding
    row = hold.loc[("cik-1790837", "alphabet")]
    assert 0 < row.pct_shares_outstanding < 0.01 and "classes summed" in row.notes
    # segment operating margins, cited to the filing: AWS FY2024 39,834 / 107,556 $M (its own
    # context); Google Cloud 6,112 / 43,229 $M (operating income paired with OperatingSegmentsMember)
    mg = late["segment_margins"].set_index("entity_id")
    assert mg.loc["aws", "margin"] == pytest.approx(39_834 / 107_556)
    assert mg.loc["google-cloud", "margin"] == pytest.approx(6_112 / 43_229)
    assert mg.loc["aws", "accession"] == "0001018724-25-000004" and set(mg.label) == {"filing"}
    assert str(mg.loc["google-cloud", "period_end"])[:10] == "2024-12-31"
    assert "us-gaap:OperatingIncomeLoss" in mg.loc["aws", "source"] and "errs low" in mg.loc["aws", "source"]
    assert filed_rows(dt.date(2025, 2, 6), ent)["segment_margins"].entity_id.tolist() == ["google-cloud"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, workspace):
    """The risk store on SQLite (the workspace's) or on a fresh PostgreSQL schema."""
    if request.param == "postgres":
        request.getfixturevalue("pg_schema")
    return request.param


def test_the_daily_model_uses_the_filed_facts(replay, backend):
    from riskmodels.pipeline import run

    run_day(DAY, http=client(replay))
    assert run_day(DAY, http=client(replay))["new"] == 0
    run(DAY, run_id="with-sec")
    conc = store.read_sql("SELECT * FROM concentration WHERE market_id = 'cloud.sec-filings.segment-revenue'")
    aws, gc = 107_556_000_000, 43_229_000_000
    hhi = (aws / (aws + gc) * 100) ** 2 + (gc / (aws + gc) * 100) ** 2
    assert conc.set_index("period").hhi["2024FY"] == pytest.approx(hhi)
    assert conc.set_index("period").min_confidence["2024FY"] == "filed"
    assert set(conc.zone) == {"n/a: reporting firms' sum"}     # no guideline zone for a reporting-firms sum
    facts = store.read_sql("SELECT * FROM market_share_facts WHERE confidence = 'filed'")
    assert set(facts.accession) == {"0001018724-25-000004", "0001652044-25-000014"} and facts.source_url.notna().all()
    markets = store.read_sql("SELECT * FROM markets WHERE market_id LIKE '%sec-filings%'")
    assert "reporting firms" in markets.definition.iloc[0]
    oc = store.read_sql("SELECT * FROM ownership_concentration WHERE regime = 'rights'")
    assert oc.delta_mhhi_common.notna().all() and oc.delta_mhhi_strategic.notna().all()
    links = store.read_sql("SELECT * FROM ownership_links WHERE owner_id = 'cik-1790837' AND status = 'included'")
    assert set(links.ref_file) == {"0001790837-23-000002"}
    hashes = json.loads(store.read_sql("SELECT input_hashes FROM pipeline_runs WHERE run_id = 'with-sec'").input_hashes.item())
    assert len(hashes["sec_filings"]) == 64
    # a share of the reporting firms' sum is not a market share: no guideline threshold fires on it
    states = store.read_sql("SELECT rule_id, subject_id FROM alert_state")
    assert len(states) and not states.subject_id.str.contains("sec-filings").any()
    # the what-if's MGUPPI takes the target's margin from its filing: Google Cloud's FY2024 segment
    # operating margin 6,112 / 43,229 $M (a full merger: kappa 1, MGUPPI = GUPPI)
    from riskmodels.screens import guppi
    from riskmodels.whatif import whatif

    w = whatif("cloud.synergy.ww", "amazon", "google-cloud", 100, control="full")
    g = w["screens"]["mguppi"]
    assert "0001652044-25-000014" in g["margin_source"] and "OperatingIncomeLoss" in g["margin_source"]
    assert g["value"] == pytest.approx(guppi(w["acquirer_share_pct"], w["target_share_pct"], 6_112 / 43_229))
    # and its CMCR (Werden 1996) takes both filed margins: AWS 39,834 / 107,556, Google Cloud 6,112 / 43,229
    from riskmodels.screens import cmcr

    s1, s2 = w["acquirer_share_pct"], w["target_share_pct"]
    c = w["screens"]["cmcr"]
    m1, m2 = 39_834 / 107_556, 6_112 / 43_229
    assert c["value_1"] == pytest.approx(cmcr(m1, m2, s2 / (100 - s1), s1 / (100 - s2)))
    assert c["value_2"] == pytest.approx(cmcr(m2, m1, s1 / (100 - s2), s2 / (100 - s1)))
    assert len(c["margin_sources"]) == 2 and all("OperatingIncomeLoss" in m for m in c["margin_sources"])


FORM_IDX = """Description:           Master Index of EDGAR Dissemination Feed by Form Type
Last Data Received:    December 31, 2024
Comments:              webmaster@sec.gov
Anonymous FTP:         ftp://ftp.sec.gov/edgar/

Form Type   Company Name                                                  CIK         Date Filed  File Name
---------------------------------------------------------------------------------------------------------------------------------------------
10-K             AMAZON COM INC                                                1018724     2025-02-07  edgar/data/1018724/0001018724-25-000004.txt
13F-HR           BULL STREET ADVISORS, LLC                                     1790837     2023-02-28  edgar/data/1790837/0001790837-23-000002.txt
SCHEDULE 13G/A   NVIDIA CORP                                                   1045810     2024-11-12  edgar/data/1045810/0000950103-24-016112.txt
4                MICROSOFT CORP                                                789019      2024-11-12  edgar/data/789019/0000789019-24-000111.txt
"""


def test_backfill_reads_older_submission_pages_and_the_quarterly_full_index(replay, workspace, monkeypatch):
    """A backfill pages filings.files[] and reads full-index/{yyyy}/QTR{n}/form.idx (EDGAR's
    fixed-width layout) for the watched CIKs; filings dated after the run date are not taken."""
    from riskmodels.sources.sec import Urls
    from riskmodels.sources.sec.daily import _parse_form_idx, discover

    rows = _parse_form_idx(FORM_IDX)
    assert [r["accession"] for r in rows] == ["0001018724-25-000004", "0001790837-23-000002",
                                             "0000950103-24-016112", "0000789019-24-000111"]
    assert rows[2] == {"form": "SCHEDULE 13G/A", "cik": "1045810", "filed": "2024-11-12",
                       "accession": "0000950103-24-016112"}
    urls = Urls()
    replay.misbehave(urls.full_index(2024, 4), ("body", FORM_IDX.encode("latin-1"), "text/plain"))
    page = urls.submissions(789019, "CIK0000789019-submissions-001.json")
    older = {"accessionNumber": ["0001193125-24-000001"], "filingDate": ["2024-10-30"], "reportDate": ["2024-09-30"],
             "acceptanceDateTime": ["2024-10-30T16:05:00.000Z"], "form": ["10-Q"], "items": [""],
             "primaryDocument": ["msft-20240930.htm"]}
    replay.misbehave(page, ("body", json.dumps(older).encode(), "application/json"))
    found = discover(dt.date(2024, 12, 31), http=client(replay), backfill=True, backfill_from=dt.date(2024, 10, 1))
    got = {c["accession"]: c for c in found["candidates"]}
    assert got["0000950103-24-016112"]["discovered_via"] == "backfill"       # full index, NVIDIA as subject
    assert got["0001193125-24-000001"]["primary_document"] == "msft-20240930.htm"   # an older page
    assert got["0001790837-23-000002"]["discovered_via"] == "seed"
    assert "0001018724-25-000004" not in got                                 # filed after the run date
    assert "0000789019-24-000111" not in got                                 # form 4 is not watched
    assert all(c["filed"] <= "2024-12-31" for c in found["candidates"])
    assert replay.hits.get(urls.full_index(2024, 4)) == 1 and replay.hits.get(page) == 1


def test_a_live_run_without_an_identity_refuses_to_start(workspace):
    import os
    import subprocess
    import sys

    env = {**os.environ, "RISKMODELS_SOURCES_MODE": "live"}
    env.pop("RISKMODELS_SEC_IDENTITY", None)
    out = subprocess.run([sys.executable, "-m", "riskmodels.cli", "sec", "run", "--date", str(DAY)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "declared identity" in out.stderr and "Traceback" not in out.stderr
    assert store.read_sql("SELECT COUNT(*) AS n FROM fetch_log").n.item() == 0
