"""The SEC parsers on the real recorded filings (data/recorded/sec), and `riskmodels sec parse`."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from conftest import ROOT
from riskmodels.sources.sec import form13f, forms13dg
from riskmodels.sources.sec.detect import UnknownDocument, parse_bytes

REC = ROOT / "data" / "recorded" / "sec"


def doc(rel: str) -> dict:
    return parse_bytes((REC / rel).read_bytes())


def one(records, **match):
    hit = [r for r in records if all(r.get(k) == v for k, v in match.items())]
    assert len(hit) == 1, (match, len(hit))
    return hit[0]


def test_13f_full_submission_in_thousands_is_converted_to_dollars():
    d = doc("13f/0001790837-23-000002_bull-street-advisors_13F-HR_2022Q4.txt")
    assert (d["kind"], d["accession"], d["holder_cik"], d["period_end"]) == ("13f", "0001790837-23-000002", "1790837",
                                                                             "2022-12-31")
    assert d["value_unit_reported"] == "thousands" and "implied" in d["unit_evidence"]   # filed 2023-02-28, yet thousands
    assert d["accepted_at"] == "2023-02-28T13:28:48" and d["amendment_no"] == 0 and len(d["records"]) == 90
    googl = one(d["records"], cusip="02079K305")
    assert (googl["shares"], googl["value_usd"], googl["put_call"], googl["share_type"]) == (15000, 1323000.0, None, "SH")


def test_13f_in_dollars_and_the_nc_feed_form():
    d = doc("13f/0001894188-23-000007_lts-one_13F-HR_2023Q3.txt")
    assert d["value_unit_reported"] == "dollars" and len(d["records"]) == 14
    assert one(d["records"], cusip="594918104")["value_usd"] == 20524000.0
    nc = doc("13f/0001951757-25-000093_acorn-creek_13F-HR_2024Q4.nc")
    assert (nc["accession"], nc["holder_cik"], nc["period_end"], nc["filed"]) == (
        "0001951757-25-000093", "1994827", "2024-12-31", "2025-01-22")   # the agent's prefix is not the holder
    assert len(nc["records"]) == 77 and {"02079K305", "02079K107"} <= {r["cusip"] for r in nc["records"]}


def test_13f_bare_tables_and_primary_doc_alone():
    bare = doc("13f/infotable_edgartools-fixture_255rows.xml")
    assert bare["value_unit_reported"] == "dollars" and len(bare["records"]) == 255 and bare["holder_cik"] is None
    spec = doc("13f/sec-technical-spec/Sample_information_table.xml")
    assert spec["value_unit_reported"] == "thousands"           # median implied price below $1
    primary = doc("13f/metlife_13F-HR_primary_doc_2021Q4.xml")
    assert primary["report_type"] == "13F COMBINATION REPORT" and primary["records"] == []
    amend = doc("13f/sec-technical-spec/Sample_13F-HRA.xml")
    assert amend["amendment_type"] == "RESTATEMENT"


def test_13f_holder_table_amendments_and_options_apart():
    import pandas as pd

    base = {"holder_cik": "1", "period_end": "2025-03-31", "share_type": "SH", "value_usd": 1.0,
            "voting_sole": 0, "voting_shared": 0, "voting_none": 0}
    rows = pd.DataFrame([
        {**base, "accession": "a", "filed": "2025-05-10", "amendment_type": None, "cusip": "X", "shares": 100, "put_call": None},
        {**base, "accession": "a", "filed": "2025-05-10", "amendment_type": None, "cusip": "X", "shares": 50, "put_call": None},
        {**base, "accession": "a", "filed": "2025-05-10", "amendment_type": None, "cusip": "X", "shares": 70, "put_call": "Call"},
        {**base, "accession": "r", "filed": "2025-06-01", "amendment_type": "RESTATEMENT", "cusip": "X", "shares": 120, "put_call": None},
        {**base, "accession": "n", "filed": "2025-06-20", "amendment_type": "NEW HOLDINGS", "cusip": "Y", "shares": 9, "put_call": None},
        {**base, "accession": "old", "filed": "2025-05-20", "amendment_type": "NEW HOLDINGS", "cusip": "Z", "shares": 1, "put_call": None},
    ])
    t = form13f.holder_table(rows).set_index("cusip")
    assert t.loc["X", "shares"] == 120 and t.loc["Y", "shares"] == 9 and "Z" not in t.index   # restated; added; superseded
    assert pd.isna(t.loc["X", "option_shares"])       # the call belonged to the replaced report


def test_schedule_13g_joint_filers_are_one_stake():
    d = doc("13dg/schedule13g_marex_jushi.xml")
    assert (d["kind"], d["form"], d["amendment_no"], d["event_date"]) == ("13g", "SCHEDULE 13G", 0, "2025-11-19")
    assert (d["issuer_name"], d["issuer_cik"], d["issuer_cusip"]) == ("Jushi Holdings Inc.", "1909747", "48213Y107")
    assert [r["percent_of_class"] for r in d["records"]] == [5.1, 5.1]
    assert d["group_percent_of_class"] == 5.1 and not d["is_exit"]          # never 10.2
    assert d["records"][0]["sole_voting"] == 10_000_000 and d["records"][0]["shared_voting"] == 0


def test_schedule_13d_and_a_legacy_html_exit():
    d = doc("13dg/schedule13d_bml-investment_aadi-bioscience.xml")
    assert d["kind"] == "13d" and d["group_percent_of_class"] == 9.9 and d["event_date"] == "2024-12-31"
    assert [(r["reporting_person"], r["percent_of_class"]) for r in d["records"]] == [
        ("BML Investment Partners, L.P.", 8.5), ("Leonard Braden Michael", 9.9)]
    legacy = doc("13dg/legacy_SC13G_livent_2023-12.html")
    assert (legacy["kind"], legacy["issuer_cusip"], legacy["event_date"]) == ("13g", "53814L108", "2023-12-29")
    assert len(legacy["records"]) == 4 and legacy["records"][1]["reporting_person"] == "Millennium Management LLC"
    assert legacy["group_percent_of_class"] == 0.0 and legacy["is_exit"]      # a 0% filing is an exit, kept


def test_structured_13g_variants_percent_strings_nested_cusips_and_exit_amendment():
    """Derived from the recorded 13G: the vocabulary's variants the notes list (a "22.2%" string,
    nested CUSIPs) and a 0% amendment."""
    xml = (REC / "13dg/schedule13g_marex_jushi.xml").read_text()
    variant = (xml.replace("<classPercent>5.1</classPercent>", "<classPercent>22.2%</classPercent>")
               .replace("<issuerCusip>48213Y107</issuerCusip>",
                        "<issuerCusips><issuerCusipNumber>48213Y107</issuerCusipNumber>"
                        "<issuerCusipNumber>48213Y206</issuerCusipNumber></issuerCusips>"))
    d = forms13dg.parse(variant)
    assert d["group_percent_of_class"] == 22.2 and d["issuer_cusips"] == ["48213Y107", "48213Y206"]
    exit_ = forms13dg.parse(xml.replace("<classPercent>5.1</classPercent>", "<classPercent>0</classPercent>")
                            .replace("<submissionType>SCHEDULE 13G</submissionType>",
                                     "<submissionType>SCHEDULE 13G/A</submissionType>")
                            .replace("<designateRulesPursuantThisScheduleFiled>",
                                     "<amendmentNo>3</amendmentNo><designateRulesPursuantThisScheduleFiled>"))
    assert exit_["form"] == "SCHEDULE 13G/A" and exit_["amendment_no"] == 3 and exit_["is_exit"]


def test_inline_xbrl_segment_revenue_and_shares_outstanding():
    amzn = doc("xbrl/amzn-10-k-2025-02-07.ixbrl.htm")
    aws = one(amzn["records"], concept="us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
              member="amzn:AmazonWebServicesSegmentMember", period_end="2024-12-31")
    assert (aws["value_usd"], aws["duration_months"], aws["axis"]) == (107_556_000_000, 12,
                                                                      "us-gaap:StatementBusinessSegmentsAxis")
    assert one(amzn["records"], concept="dei:EntityCommonStockSharesOutstanding")["value"] == 10_597_729_352
    googl = doc("xbrl/googl-10-k-2025-02-05.ixbrl.htm.gz")
    cloud = one(googl["records"], concept="us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
                member="goog:GoogleCloudMember", period_end="2024-12-31")
    assert cloud["value_usd"] == 43_229_000_000
    classes = [r for r in googl["records"] if r["concept"] == "dei:EntityCommonStockSharesOutstanding"]
    assert sorted(r["value"] for r in classes) == [860e6, 5497e6, 5833e6]
    consolidated = [r for r in googl["records"] if r["concept"] == "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"
                    and r["axis"] is None and r["period_end"] == "2024-12-31" and r["duration_months"] == 12]
    assert len(consolidated) == 1 and consolidated[0]["member"] is None


def test_discovery_documents():
    facts = doc("xbrl/companyfacts_CIK0001652044_GOOGL.full.json.gz")
    assert facts["kind"] == "companyfacts" and len(facts["records"]) == 20324 and facts["cik"] == "1652044"
    sub = doc("submissions/CIK0000789019_MSFT_submissions.json")
    assert len(sub["records"]) == 1006 and sum(r["form"] == "SC 13G/A" for r in sub["records"]) == 10
    assert sub["pages"] == ["CIK0000789019-submissions-001.json", "CIK0000789019-submissions-002.json"]
    atom = doc("feeds/edgar_getcurrent_all_atom_p0.xml")
    assert len(atom["records"]) == 100
    assert {r["form"] for r in atom["records"]} == {"4", "144", "144/A", "SCHEDULE 13D/A"}


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "riskmodels.cli", "sec", "parse", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_json_contract_gzip_and_bad_input(tmp_path):
    out = _cli(str(REC / "13f/0001894188-23-000007_lts-one_13F-HR_2023Q3.txt"), "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert (d["kind"], d["accession"]) == ("13f", "0001894188-23-000007") and len(d["records"]) == 14
    r = d["records"][0]
    for k in ("holder_cik", "period_end", "cusip", "issuer_name", "title_of_class", "shares", "share_type", "put_call",
              "value_usd", "value_unit_reported", "voting_sole", "voting_shared", "voting_none"):
        assert k in r
    assert isinstance(r["shares"], int | float) and r["period_end"] == "2023-09-30"
    gz = tmp_path / "13g.xml.gz"
    gz.write_bytes(gzip.compress((REC / "13dg/schedule13g_marex_jushi.xml").read_bytes()))
    g = json.loads(_cli(str(gz), "--json").stdout)
    assert g["kind"] == "13g" and g["group_percent_of_class"] == 5.1
    for k in ("form", "amendment_no", "event_date", "issuer_name", "issuer_cik", "issuer_cusip", "reporting_person",
              "percent_of_class", "shares", "sole_voting", "shared_voting"):
        assert k in g["records"][0]
    bad = tmp_path / "broken.xml"
    bad.write_text("<edgarSubmission xmlns=\"http://www.sec.gov/edgar/schedule13g\"><oops")
    res = _cli(str(bad), "--json")
    assert res.returncode == 2 and str(bad) in res.stderr and res.stdout == ""
    human = _cli(str(REC / "submissions/CIK0000789019_MSFT_submissions.json"))
    assert human.returncode == 0 and "submissions" in human.stdout and "1006 records" in human.stdout


def test_unknown_documents_are_refused():
    for raw in (b"hello", b'{"a": 1}', b"\x1f\x8bnot gzip"):
        with pytest.raises(UnknownDocument):
            parse_bytes(raw)


def test_13f_data_set_zip_in_the_sec_layout(tmp_path):
    """The quarterly Form 13F data set (zip of TSVs) through load_datasets, holder_table and the CLI."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from sec_bench import write_dataset

    path = tmp_path / "01DEC2024-28FEB2025_form13f.zip"
    made = write_dataset(path, rows=5000, filers=40)
    rec = form13f.load_datasets(path)
    assert len(rec) == made["infotable_rows"]
    assert set(rec["value_unit_reported"].astype(str)) == {"dollars", "thousands"}
    # values in thousands are stored as dollars: implied prices are those the generator drew
    price = rec["value_usd"] / rec["shares"]
    assert price.between(4.5, 901).mean() > 0.99
    table = form13f.holder_table(rec)
    assert table["shares"].sum() <= rec.loc[rec["put_call"].isna(), "shares"].sum()
    out = subprocess.run([sys.executable, "-m", "riskmodels.cli", "sec", "parse", str(path), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["kind"] == "13f" and len(doc["records"]) == made["infotable_rows"]
    assert {"holder_cik", "period_end", "cusip", "value_usd", "value_unit_reported"} <= set(doc["records"][0])
