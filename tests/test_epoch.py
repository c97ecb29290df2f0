"""Epoch AI GPU clusters, slice 1 of issue 14: the schema check, tagged multi-valued cells, names to
entity ids, and installed compute by owner and vendor per quarter on hand-checked small inputs
(owner splitting, the unattributed remainder, point in time by first operational and
decommissioning dates), plus the recorded release through the replay server."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from riskmodels.config import load_yaml
from riskmodels.sources.epoch.clusters import EpochSchemaError, installed_shares, read_clusters, resolve, split_tagged

CFG = load_yaml(ROOT / "config" / "epoch.yaml")
COLS = CFG["datasets"]["gpu_clusters"]["columns"]
ALIASES = pd.read_csv(ROOT / "data" / "entity_aliases.csv", dtype=str, keep_default_na=False)


def release(rows: list[dict], drop: tuple[str, ...] = ()) -> bytes:
    """A small release with every needed column (by Epoch's names) plus one we do not read."""
    base = {v: "" for v in COLS.values()} | {"Max OP/s (log)": "1"}
    frame = pd.DataFrame([{**base, **{COLS[k]: v for k, v in r.items()}} for r in rows])
    buf = io.StringIO()
    frame.drop(columns=list(drop)).to_csv(buf, index=False)
    return buf.getvalue().encode()


SMALL = [
    # A, owned by Microsoft and OpenAI: 300 H100e split 150/150, from 2024-02
    {"name": "A", "status": "Existing", "h100e": "300", "owner": "Microsoft,OpenAI", "first_operational": "2024-02-10",
     "vendor": "NVIDIA"},
    # B, xAI, 500 H100e from 2024Q3 (month precision: known from 2024-08-31)
    {"name": "B", "status": "Existing", "h100e": "500", "owner": "xAI", "first_operational": "2024-08", "vendor": "NVIDIA"},
    # C, no owner: 200 H100e stay in the total, attributed to nobody
    {"name": "C", "status": "Existing", "h100e": "200", "owner": "", "first_operational": "2024-01-05",
     "vendor": "Anonymized"},
    # D, decommissioned on 2024-05-01: counts in 2024Q1 only
    {"name": "D", "status": "Decommissioned", "h100e": "100", "owner": "Tesla", "first_operational": "2023-12-01",
     "decommissioned": "2024-05-01", "vendor": "AMD"},
    # E, planned; F, a possible duplicate; G, no first operational date: never counted in a quarter
    {"name": "E", "status": "Planned", "h100e": "9000", "owner": "xAI", "first_operational": "2024-03-01"},
    {"name": "F", "status": "Existing", "h100e": "700", "owner": "xAI", "first_operational": "2024-01-01",
     "possible_duplicate": "True"},
    {"name": "G", "status": "Existing", "h100e": "50", "owner": "Meta AI"},
]


def test_owner_shares_split_equally_keep_the_unattributed_remainder_and_follow_dates():
    c = read_clusters(release(SMALL), CFG)
    s = installed_shares(c, "owner", ALIASES, CFG, pd.Timestamp("2024-09-30")).set_index(["period", "entity_id"])
    # 2023Q4: D alone (100, Tesla)
    assert s.loc[("2023Q4", "epoch:tesla"), "share_pct"] == 100.0
    # 2024Q1: A 300 + C 200 + D 100 = 600; Microsoft 150, OpenAI 150, Tesla 100, C unattributed
    q1 = s.loc["2024Q1"]
    assert q1["total_h100e"].unique().tolist() == [600.0]
    assert q1.loc["microsoft", "share_pct"] == pytest.approx(25.0) and q1.loc["openai", "share_pct"] == pytest.approx(25.0)
    assert q1.loc["epoch:tesla", "share_pct"] == pytest.approx(100 / 6)
    assert q1["share_pct"].sum() == pytest.approx(400 / 6)               # C's third is the remainder
    # 2024Q2: D decommissioned; 2024Q3: B (xAI 500) joins: total 1,000
    assert "epoch:tesla" not in s.loc["2024Q2"].index
    q3 = s.loc["2024Q3"]
    assert q3.loc["xai", "share_pct"] == pytest.approx(50.0) and q3["total_h100e"].iloc[0] == 1000.0
    # planned, duplicate and undated clusters never enter a quarter; the undated one is counted
    assert not (s["h100e"] > 1000).any() and s["undated"].iloc[0] == 1
    # point in time: an earlier as-of stops the series there
    early = installed_shares(c, "owner", ALIASES, CFG, pd.Timestamp("2024-03-15"))
    assert early["period"].max() == "2024Q1"


def test_vendor_shares_resolve_names_and_leave_anonymised_suppliers_unattributed():
    c = read_clusters(release(SMALL), CFG)
    v = installed_shares(c, "vendor", ALIASES, CFG, pd.Timestamp("2024-09-30"))
    q3 = v[v.period == "2024Q3"].set_index("entity_id")
    assert q3.loc["nvidia", "share_pct"] == pytest.approx(80.0)        # A + B of 1,000; C anonymised
    assert set(q3.index) == {"nvidia"}


def test_tagged_multi_valued_cells_and_aliases():
    t = split_tagged(pd.Series(["Amazon #confident", "OpenAI #likely, Microsoft #likely", "", "Meta AI"]))
    t = t[["idx", "name", "confidence", "n"]].astype(object)
    assert t.where(t.notna(), None).values.tolist() == [
        [0, "Amazon", "confident", 1], [1, "OpenAI", "likely", 2], [1, "Microsoft", "likely", 2],
        [3, "Meta AI", None, 1]]
    ids = resolve(pd.Series(["Meta AI", "Google", "Lambda Labs", "Sesterce", "Google"]), ALIASES).tolist()
    assert ids[:4] == ["meta", "alphabet", "lambda", "epoch:sesterce"]
    assert resolve(pd.Series(["Google"]), ALIASES, "accelerator").tolist() == ["google-cloud"]


def test_schema_drift_and_bad_cells_name_the_file_row_and_column():
    with pytest.raises(EpochSchemaError, match=r"lacks the column\(s\) \['Owner'\]"):
        read_clusters(release(SMALL, drop=("Owner",)), CFG, "release.csv")
    bad = [dict(SMALL[0], h100e="about 300")]
    with pytest.raises(EpochSchemaError, match=r"release.csv: row 1, column 'H100 equivalents': 'about 300'"):
        read_clusters(release(bad), CFG, "release.csv")
    bad = [dict(SMALL[0], first_operational="soon")]
    with pytest.raises(EpochSchemaError, match="First Operational Date"):
        read_clusters(release(bad), CFG, "release.csv")


def test_the_recorded_release_through_the_replay_server(replay, workspace):
    from riskmodels import store
    from riskmodels.sources.client import FetchClient
    from riskmodels.sources.epoch import fetch

    http = FetchClient(family="test-epoch", user_agent="riskmodels tests tests@example.org", rewrite=replay.rewrite,
                       served_by="replay", retries=1, backoff=0.05)
    resp, as_of = fetch("gpu_clusters", http=http)
    assert str(as_of) == "2025-12-17" and resp.status == 200
    c = read_clusters(resp.body, CFG)
    assert len(c) == 786
    again, _ = fetch("gpu_clusters", http=http)
    assert again.not_modified and again.body == resp.body               # conditional GET: 304, the landed copy
    assert len(store.read_sql("SELECT * FROM fetch_log WHERE family = 'test-epoch'")) == 2
    s = installed_shares(c, "owner", ALIASES, CFG, pd.Timestamp(as_of))
    last = s[s.period == "2025Q4"]
    assert last.iloc[0]["entity_id"] == "xai" and 0 < last["share_pct"].sum() < 100


def test_cli_prints_the_latest_quarter_and_refuses_a_drifted_file(tmp_path, workspace):
    ok = subprocess.run([sys.executable, "-m", "riskmodels.cli", "epoch", "shares", "--by", "owner", "--file",
                         str(ROOT / "data" / "recorded" / "epoch" / "gpu_clusters" / "gpu_clusters.csv"),
                         "--as-of", "2025-12-17", "--json"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    rows = json.loads(ok.stdout)
    assert {r["period"] for r in rows} >= {"2025Q4", "2020Q1"}
    drifted = tmp_path / "drifted.csv"
    drifted.write_bytes(release(SMALL, drop=("H100 equivalents",)))
    bad = subprocess.run([sys.executable, "-m", "riskmodels.cli", "epoch", "shares", "--file", str(drifted)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "H100 equivalents" in bad.stderr and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- slice 2: store, daily model, alerts
DAY = pd.Timestamp("2024-10-15").date()


def _load(raw: bytes, as_of: str, run_date=DAY):
    import datetime as dt
    import hashlib

    from riskmodels.sources.epoch.daily import load_release

    return load_release("gpu_clusters", raw, hashlib.sha256(raw).hexdigest(), "https://epoch.ai/test/gpu_clusters.csv",
                        dt.date.fromisoformat(as_of), run_date)


def test_a_release_is_published_then_scored_point_in_time_and_a_bad_one_is_quarantined(workspace):
    import datetime as dt

    from riskmodels import store
    from riskmodels.sources.epoch.model import compute_rows, latest_release

    ents = pd.DataFrame({"entity_id": ["microsoft", "openai", "xai"]})
    assert _load(release(SMALL), "2024-09-30")["status"] == "published"
    assert store.read_sql("SELECT COUNT(*) AS n FROM epoch_clusters").n.item() == len(SMALL)
    # before the release's as-of date nothing is known
    assert compute_rows(dt.date(2024, 9, 29), ents)["sha256"] is None
    rows = compute_rows(DAY, ents)
    s = rows["market_shares"].set_index(["market_id", "period", "entity_id"])["share_pct"]
    # hand-checked (see SMALL): 2024Q3 worldwide owners: xAI 500, Microsoft 150, OpenAI 150 of 1,000
    assert s[("compute.epoch.h100e-owner.ww", "2024Q3", "xai")] == pytest.approx(50.0)
    assert s[("compute.epoch.h100e-owner.ww", "2024Q3", "microsoft")] == pytest.approx(15.0)
    assert s.xs(("compute.epoch.h100e-owner.ww", "2024Q3")).sum() == pytest.approx(80.0)   # C is the remainder
    # incl. planned (release quarter only): E (Planned, certainty empty -> weight 0) adds nothing; a Likely one
    # counts half
    assert set(rows["market_shares"].query("market_id.str.endswith('incl-planned')", engine="python").period) == {"2024Q3"}
    # no cluster has a country: the country markets are empty, the worldwide ones are not
    assert not rows["market_shares"].market_id.str.contains(r"\.us$|\.cn$|\.rest$").any()
    assert set(rows["markets"].market_id) == {"compute.epoch.h100e-owner.ww", "compute.epoch.h100e-vendor.ww",
                                              "compute.epoch.h100e-owner.ww-incl-planned"}
    first = latest_release(DAY)["sha256"]
    # a release that renamed a column, and one with a negative H100e: quarantined, the first stays the one scored
    drift = _load(release(SMALL, drop=("Owner",)), "2024-10-01")
    assert drift["status"] == "quarantined" and "'Owner'" in drift["reason"]
    neg = _load(release([dict(SMALL[0], h100e="-5")] + SMALL[1:]), "2024-10-02")
    assert neg["status"] == "quarantined" and "row 1" in neg["reason"] and "h100e" in neg["reason"], neg["reason"]
    assert latest_release(DAY)["sha256"] == first
    assert store.read_sql("SELECT COUNT(*) AS n FROM epoch_clusters").n.item() == len(SMALL)
    v = store.read_sql("SELECT dataset, success, mode, details FROM validation_results WHERE dataset = 'epoch_clusters' "
                       "ORDER BY validated_at")
    assert v.success.astype(bool).tolist() == [True, False, False] and v["mode"].iloc[1] == "parse"
    assert "'Owner'" in v.details.iloc[1]
    # a release with planned capacity of each certainty
    planned = SMALL + [{"name": "P1", "status": "Planned", "certainty": "Likely", "h100e": "1000", "owner": "OpenAI",
                        "first_operational": "2026-01"},
                       {"name": "P2", "status": "Planned", "certainty": "Unlikely", "h100e": "1000", "owner": "xAI"}]
    assert _load(release(planned), "2024-10-03")["status"] == "published"
    s = compute_rows(DAY, ents)["market_shares"].query("market_id == 'compute.epoch.h100e-owner.ww-incl-planned'")
    s = s.set_index("entity_id")["share_pct"]
    # 2024Q4 = the as-of quarter: existing A 300, B 500, C 200 (D gone) = 1,000; + P1 1,000 x 0.5 + P2 1,000 x 0.1
    # (E has no certainty: weight 0) = 1,600
    assert s["openai"] == pytest.approx((150 + 500) / 1600 * 100)
    assert s["xai"] == pytest.approx((500 + 100) / 1600 * 100)


def test_the_daily_run_publishes_compute_markets_alerts_on_them_and_keeps_them_after_a_bad_release(replay, workspace):
    """The recorded release through the daily run: the compute markets with HHI, interval, CR1,
    zone; their alert rules; the report's Compute section with the CC BY credit; a quarantined
    release later leaves the compute scores of the next run as they were."""
    import datetime as dt

    from riskmodels import pipeline, store
    from riskmodels.htmlreport import build_report
    from riskmodels.sources.client import FetchClient
    from riskmodels.sources.epoch.daily import run_day

    http = FetchClient(family="epoch", user_agent="riskmodels tests tests@example.org", rewrite=replay.rewrite,
                       served_by="replay", retries=1, backoff=0.05)
    d = dt.date(2026, 11, 24)
    out = run_day(d, http=http)
    assert out["published"] == ["epoch_clusters", "epoch_data_centers", "epoch_frontier_models"] and out["new"] == 3
    assert run_day(d, http=http)["new"] == 0                              # 304s: nothing new
    pipeline.run(d, run_id="compute-1")
    c = store.read_sql("SELECT * FROM concentration WHERE run_date = :d AND layer = 'compute' AND period = '2025Q4'",
                       {"d": d}).set_index("market_id")
    ww = c.loc["compute.epoch.h100e-owner.ww"]
    assert round(ww.hhi) == 1264 and ww.top_entity_id == "xai" and round(ww.cr1, 2) == 32.27
    assert round(ww.attributed_pct, 1) == 88.0 and ww.hhi_upper > ww.hhi and ww.zone == "moderately concentrated"
    assert c.loc["compute.epoch.h100e-vendor.ww", "zone"] == "highly concentrated"
    assert "compute.epoch.h100e-owner.cn" not in c.index                  # no Chinese cluster names its owner
    hist = store.read_sql("SELECT COUNT(*) AS n FROM concentration WHERE run_date = :d AND market_id = "
                          "'compute.epoch.h100e-owner.ww'", {"d": d}).n.item()
    assert hist > 40                                                      # a history from first operational dates
    runs = store.read_sql("SELECT input_hashes FROM pipeline_runs WHERE run_id = 'compute-1'")
    hashes = json.loads(runs.input_hashes.item())
    assert {"epoch_gpu_clusters", "epoch_data_centers", "epoch_frontier_models", "compute_ownership"} <= set(hashes)
    # owner -> user links from the data centers (Amazon -> Anthropic at New Carlisle, as Epoch tags it)
    links = store.read_sql("SELECT * FROM compute_links WHERE run_date = :d", {"d": d})
    nc = links[links.site == "Anthropic-Amazon New Carlisle"].iloc[0]
    assert (nc.owner_id, nc.user_id, nc.origin, nc.confidence) == ("amazon", "anthropic", "data_center", "confident")
    assert nc.h100e == pytest.approx(471565.91580011166) and nc.power_mw == 751
    assert not links.user_id.str.startswith("epoch:").any()               # users are registry firms
    assert not ((links.owner_id == "alphabet") & (links.user_id == "google-deepmind")).any()  # one group
    # frontier training by hardware maker per year
    fr = store.read_sql("SELECT period, top_entity_id FROM concentration WHERE run_date = :d AND market_id = "
                        "'compute.epoch.frontier-training-hardware.ww'", {"d": d}).set_index("period")
    assert fr.loc["2024FY", "top_entity_id"] == "nvidia" and fr.loc["2022FY", "top_entity_id"] == "google-cloud"
    assert "2025FY" in fr.index
    firing = store.read_sql("SELECT rule_id, subject_id FROM alert_state WHERE run_date = :d AND status = 'FIRING'",
                            {"d": d})
    pairs = set(zip(firing.rule_id, firing.subject_id))
    assert ("compute-hhi-highly-concentrated", "compute.epoch.h100e-vendor.ww") in pairs
    assert ("compute-owner-over-30", "compute.epoch.h100e-owner.ww:xai") in pairs
    assert not {r for r, s in pairs if r == "hhi-highly-concentrated" and s.startswith("compute.")}
    page = build_report(d).read_text()
    assert "id='compute'" in page and "Epoch AI, &#x27;Data on GPU Clusters&#x27;" in page and "CC BY 4.0" in page
    assert "Data on Frontier AI Data Centers" in page and "Anthropic-Amazon New Carlisle" in page
    assert "Who trained the frontier models" in page and "Chip-owner estimates against" in page
    # a new release with a column dropped upstream: quarantined, alerted; the next run scores the old one
    raw = (ROOT / "data" / "recorded" / "epoch" / "gpu_clusters" / "gpu_clusters.csv").read_bytes()
    replay.misbehave("https://epoch.ai/data/generated/gpu_clusters/gpu_clusters.csv",
                     ("body", raw.replace(b"H100 equivalents", b"H100e", 1), "text/csv"))
    d2 = dt.date(2026, 11, 25)
    bad = run_day(d2, http=http)
    assert bad["quarantined"] and "H100 equivalents" in bad["quarantined"][0]["reason"]
    pipeline.run(d2, run_id="compute-2")
    c2 = store.read_sql("SELECT market_id, period, hhi FROM concentration WHERE run_date = :d AND layer = 'compute'",
                        {"d": d2})
    c1 = store.read_sql("SELECT market_id, period, hhi FROM concentration WHERE run_date = :d AND layer = 'compute'",
                        {"d": d})
    pd.testing.assert_frame_equal(c1.sort_values(["market_id", "period"]).reset_index(drop=True),
                                  c2.sort_values(["market_id", "period"]).reset_index(drop=True))
    digest = (workspace / "outbox" / f"digest-{d2}.eml").read_text()
    assert "epoch_clusters" in digest and "H100 equivalents" in digest


def test_a_new_large_cluster_in_a_later_release_fires_the_watch_rule(workspace):
    import datetime as dt

    from riskmodels.alerts import metric_frame

    assert _load(release(SMALL), "2024-09-30")["status"] == "published"
    assert metric_frame("new_cluster", DAY).empty                          # the first release is the baseline
    big = SMALL + [{"name": "Colossus 3", "status": "Existing", "h100e": "250000", "owner": "xAI",
                    "first_operational": "2024-10-01", "country": "United States of America"}]
    assert _load(release(big), "2024-10-10")["status"] == "published"
    obs = metric_frame("new_cluster", DAY)
    assert obs.subject_id.tolist() == ["cluster:Colossus 3"] and obs.value.tolist() == [250000.0]
    assert metric_frame("new_cluster", dt.date(2024, 10, 5)).empty        # point in time: not known yet


# --------------------------------------------------------------------------- slice 3: links, lock-in, frontier
def _sites(rows: list[dict]) -> pd.DataFrame:
    base = {"title": "", "owner": "", "users": "", "investors": "", "h100e": 0.0, "power_mw": float("nan"),
            "capital_cost_usd_bn": float("nan"), "address": ""}
    df = pd.DataFrame([{**base, **r} for r in rows])
    return df.assign(row=range(1, len(df) + 1))


def test_owner_user_links_split_figures_and_keep_only_firms_outside_the_owners_group():
    from riskmodels.sources.epoch.links import compute_links, lockin_links

    ents = pd.read_csv(ROOT / "data" / "entities.csv", dtype=str)
    parents = ents.set_index("entity_id")["parent_id"].dropna().to_dict()
    centers = _sites([
        # two users: the figures are split over the two pairs
        {"title": "S1", "owner": "Amazon #confident", "users": "Anthropic #confident, OpenAI #speculative",
         "h100e": 1000.0, "power_mw": 10.0, "capital_cost_usd_bn": 2.0},
        # a user inside the owner's group and free-text users: no link
        {"title": "S2", "owner": "Google Cloud #confident", "users": "Google DeepMind #likely, Cloud, Academia",
         "h100e": 500.0},
        # a co-owner listed as user: no link; the other user is one
        {"title": "S3", "owner": "Oracle,OpenAI", "users": "OpenAI, xAI #likely", "h100e": 400.0},
    ])
    links = compute_links(centers, None, ALIASES, CFG, {"data_centers": "c" * 64}, parents)
    got = {(r.owner_id, r.user_id, r.site): (r.h100e, r.power_mw, r.capital_cost_usd_bn, r.confidence)
           for r in links.itertuples()}
    assert set(got) == {("amazon", "anthropic", "S1"), ("amazon", "openai", "S1"), ("oracle", "xai", "S3"),
                        ("openai", "xai", "S3")}
    assert got[("amazon", "anthropic", "S1")] == (500.0, 5.0, 1.0, "confident")
    assert got[("amazon", "openai", "S1")][3] == "speculative"
    assert got[("oracle", "xai", "S3")][0] == 200.0 and np.isnan(got[("oracle", "xai", "S3")][1])  # no MW known
    assert links.loc[links.site == "S1", "source_ref"].tolist() == ["epoch:data_centers@cccccccccccc#1"] * 2
    # lock-in counts likely and better (a speculative user is not evidence of dependence)
    assert set(lockin_links(links, CFG).user_id) == {"anthropic", "xai"}


def test_lockin_on_the_h100e_basis_scales_the_hhi_by_the_rented_share():
    from riskmodels.config import load_yaml as ly
    from riskmodels.lockin import lockin_scores

    ents = pd.read_csv(ROOT / "data" / "entities.csv", dtype=str)
    risk = ly(ROOT / "config" / "risk.yaml")
    empty_com = pd.read_csv(ROOT / "data" / "compute_commitments.csv", dtype=str).iloc[0:0]
    for col in ("amount_usd_bn", "power_gw", "term_years"):
        empty_com[col] = empty_com[col].astype(float)
    inv = pd.read_csv(ROOT / "data" / "investments.csv").iloc[0:0]
    stakes = pd.read_csv(ROOT / "data" / "stake_rights.csv", dtype=str).iloc[0:0]
    links = pd.DataFrame({"owner_id": ["oracle", "microsoft-azure"], "user_id": ["xai", "xai"], "h100e": [300.0, 100.0],
                          "source_ref": ["epoch:data_centers@x#1", "epoch:gpu_clusters@y#2"]})
    lk = lockin_scores(empty_com, inv, stakes, ents, risk, links=links, own_h100e={"xai": 600.0})
    row = lk[(lk.buyer_id == "xai") & (lk.layer == "cloud")].iloc[0]
    # HHI of 300/100 = 0.75^2 + 0.25^2 = 0.625; rented 400 of 1,000 -> 0.25
    comp = json.loads(row.components)["supplier_concentration"]
    assert row.basis == "h100e" and comp["value"] == pytest.approx(0.625 * 0.4)
    assert row.top_supplier_id == "oracle" and row.top_supplier_share_pct == pytest.approx(75.0)
    assert "rents 400 H100e and owns 600" in row.explanation
    assert row.source_refs == "epoch:data_centers@x#1;epoch:gpu_clusters@y#2"


def test_frontier_training_shares_split_makers_and_keep_unknown_as_the_remainder():
    from riskmodels.sources.epoch.frontier import training_shares

    models = pd.DataFrame({
        "model": ["a", "b", "c", "d", "e"],
        "publication_date": pd.to_datetime(["2024-03-01", "2024-06-01", "2024-09-01", "2024-12-01", "2023-05-01"]),
        "training_compute_flop": [6e25, 2e25, 2e25, float("nan"), 1e24],
        "hardware_maker": ["NVIDIA", "NVIDIA,Google", "", "NVIDIA", "Google"],
        "cloud": ["", "", "", "", ""]})
    s = training_shares(models, "hardware_maker", ALIASES, CFG, "accelerator").set_index(["period", "entity_id"])
    # 2024: total 1e26 over a, b, c (d has no FLOP figure); NVIDIA 6e25 + 1e25, Google 1e25, c unattributed
    assert s.loc[("2024FY", "nvidia"), "share_pct"] == pytest.approx(70.0)
    assert s.loc[("2024FY", "google-cloud"), "share_pct"] == pytest.approx(10.0)
    assert s.loc[("2024FY", "nvidia"), "unknown_flop"] == 1 and s.loc[("2024FY", "nvidia"), "year_models"] == 4
    assert s.loc[("2023FY", "google-cloud"), "share_pct"] == pytest.approx(100.0)
    assert training_shares(models, "cloud", ALIASES, CFG, "cloud").empty


def test_the_uncertainty_band_spans_the_certainty_choices_and_the_anonymised_remainder():
    from riskmodels.sources.epoch.model import uncertainty

    rows = [{"name": "A", "status": "Existing", "certainty": "Confirmed", "h100e": "600", "owner": "xAI",
             "first_operational": "2024-01-10"},
            {"name": "B", "status": "Existing", "certainty": "Likely", "h100e": "300", "owner": "Meta AI",
             "first_operational": "2024-01-10"},
            {"name": "C", "status": "Existing", "certainty": "Unlikely", "h100e": "100", "owner": "",
             "first_operational": "2024-01-10"}]
    c = read_clusters(release(rows), CFG)
    band = uncertainty(c, ALIASES, CFG, {"as_of": "2024-03-31", "sha256": "d" * 64})
    b = band[band.market_id == "compute.epoch.h100e-owner.ww"].set_index("period").loc["2024Q1"]
    # all: xAI 60%, Meta 30%, 10% unattributed -> 3,600 + 900 = 4,500 (upper: + 100 = 4,600)
    assert b.hhi == pytest.approx(4500) and b.band_high >= 10000 - 1e-6
    # Confirmed only: xAI alone -> 10,000; without Unlikely: xAI 600/900, Meta 300/900 -> 5,555.6
    assert b.hhi_confirmed_only == pytest.approx(10000) and b.hhi_excl_unlikely == pytest.approx(50000 / 9)
    assert b.band_low == pytest.approx(4500) and b.attributed_pct == pytest.approx(90.0)


def test_compute_rows_are_kept_across_processes_by_their_inputs(workspace, monkeypatch):
    """compute_rows is recorded under the storage root (riskmodels.memo) by its releases,
    registry, ownership rows, config and code: a later process with the same inputs reads it back
    (equal frames, nothing recomputed), a changed registry computes again."""
    from riskmodels import memo
    from riskmodels.sources.epoch import model

    ents = pd.DataFrame({"entity_id": ["microsoft", "openai", "xai"]})
    assert _load(release(SMALL), "2024-09-30")["status"] == "published"
    first = model.compute_rows(DAY, ents)
    calls = []
    real = model._compute_rows
    monkeypatch.setattr(model, "_compute_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    memo.clear_local()                                   # as a new process: only the stored record
    again = model.compute_rows(DAY, ents)
    assert calls == [] and set(again) == set(first)
    for name in ("market_shares", "links", "uncertainty", "markets"):
        pd.testing.assert_frame_equal(again[name], first[name])
    again["market_shares"]["share_pct"] = 0.0            # a caller changing its copy changes no record
    pd.testing.assert_frame_equal(model.compute_rows(DAY, ents)["market_shares"], first["market_shares"])
    assert calls == []
    model.compute_rows(DAY, pd.DataFrame({"entity_id": ["microsoft", "openai"]}))
    assert calls == [1]
    assert len(list((workspace / "memo" / "epoch_compute_rows").glob("*.memo"))) == 2
