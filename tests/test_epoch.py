"""Epoch AI GPU clusters, slice 1 of issue 14: the schema check, tagged multi-valued cells, names to
entity ids, and installed compute by owner and vendor per quarter on hand-checked small inputs
(owner splitting, the unattributed remainder, point in time by first operational and
decommissioning dates), plus the recorded release through the replay server."""
from __future__ import annotations

import io
import json
import subprocess
import sys

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
