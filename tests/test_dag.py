"""The real Airflow: DAG integrity, structure, parse cost, and one end-to-end ``dag.test()``."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pendulum
import pytest

from conftest import ROOT

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="session")
def airflow_db():
    from airflow.utils import db

    db.initdb()


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"ai_stack_daily", "sec_filings", "epoch_compute", "regulatory_feeds",
                                  "review"}


def test_structure(dagbag):
    dag = dagbag.dags["ai_stack_daily"]
    assert set(dag.task_dict) == {"list_datasets", "ingest", "validate", "score", "publish", "alerts", "report",
                                  "cleanup"}
    down = {t: dag.task_dict[t].downstream_task_ids for t in dag.task_dict}
    assert down["list_datasets"] == {"ingest"}
    assert down["ingest"] == {"validate", "score", "publish"}
    assert down["validate"] == {"score"}
    assert down["score"] == {"publish"}
    assert down["publish"] == {"alerts"} and down["alerts"] == {"report"} and down["report"] == {"cleanup"}
    assert dag.task_dict["alerts"].trigger_rule == "all_done" and dag.task_dict["cleanup"].is_teardown
    assert type(dag.task_dict["validate"].on_failure_callback[0]).__name__ == "RunFailureNotifier"
    assert dag.catchup is False and dag.max_active_runs == 1
    # daily, or when the SEC source publishes new facts
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert type(dag.timetable.timetable).__name__ == "CronDataIntervalTimetable"
    sec = dagbag.dags["sec_filings"]
    assert {a.uri for a in sec.task_dict["announce"].outlets} == {
        f"riskmodels://store/{t}" for t in ("sec_stakes", "sec_holdings", "sec_segment_revenue", "sec_shares_outstanding")}
    assert "riskmodels://store/sec_holdings" in repr(dag.timetable.asset_condition)
    # ... or when the Epoch source publishes a new release
    ep = dagbag.dags["epoch_compute"]
    assert {a.uri for a in ep.task_dict["announce"].outlets} == {
        f"riskmodels://store/{t}" for t in ("epoch_clusters", "epoch_data_centers", "epoch_frontier_models")}
    assert "riskmodels://store/epoch_clusters" in repr(dag.timetable.asset_condition)
    # ... or when an analyst accepted a candidate in the review DAG (human in the loop)
    rv = dagbag.dags["review"]
    assert {a.uri for a in rv.task_dict["announce"].outlets} == {"riskmodels://store/reviewed_candidates"}
    assert "riskmodels://store/reviewed_candidates" in repr(dag.timetable.asset_condition)
    assert type(rv.task_dict["decide"]).__name__ == "MappedOperator"
    assert rv.task_dict["decide"].operator_class.__name__ == "HITLEntryOperator"
    assert "riskmodels://store/candidate_events" in repr(rv.timetable.asset_condition)
    for task in dag.tasks:
        assert task.retries >= 2 and task.retry_exponential_backoff
    assert {a.uri for a in dag.task_dict["publish"].outlets} == {
        f"riskmodels://store/{t}" for t in ("concentration", "market_share_facts", "investment_facts",
                                            "commitment_facts", "ownership_concentration", "lockin_scores",
                                            "circular_flows", "antitrust_scores")}


@pytest.mark.parametrize("dag_file", ["ai_stack_daily.py", "sec_filings.py", "epoch_compute.py", "regulatory_feeds.py",
                                      "review.py"])
def test_dag_file_parses_without_heavy_imports(dag_file):
    code = ("import runpy, sys; runpy.run_path(sys.argv[1]);"
            "import json; print(json.dumps(sorted(m for m in ('pandas', 'great_expectations', 'sklearn',"
            " 'riskmodels', 'sqlalchemy.orm.decl_api', 'numpy') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "dags" / dag_file)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert not {"pandas", "great_expectations", "sklearn", "numpy"} & set(loaded), loaded


def test_dag_test_end_to_end(airflow_db, dagbag, workspace):
    from airflow.utils.state import DagRunState

    from riskmodels import store

    dag = dagbag.dags["ai_stack_daily"]
    dr = dag.test(logical_date=pendulum.datetime(2026, 11, 24, 6, tz="UTC"))
    assert dr.state == DagRunState.SUCCESS, [(ti.task_id, ti.state) for ti in dr.get_task_instances()]
    # explicit data-interval semantics: the 06:00 run closes [yesterday 06:00, today 06:00)
    assert dr.data_interval_start == pendulum.datetime(2026, 11, 23, 6, tz="UTC")
    assert dr.data_interval_end == pendulum.datetime(2026, 11, 24, 6, tz="UTC")
    run_date = dt.date(2026, 11, 24)
    conc = store.read_sql("SELECT * FROM concentration WHERE run_date = :d", {"d": run_date})
    assert len(conc) >= 38
    runs = store.read_sql("SELECT run_id, status, step_seconds FROM pipeline_runs")
    assert runs.status.tolist() == ["published"] and runs.run_id.item() == dr.run_id
    assert set(json.loads(runs.step_seconds.item())) == {"ingest", "validate", "score", "publish"}
    from riskmodels.ownership import REGIMES
    from riskmodels.pipeline import datasets

    assert REGIMES == ("silent", "rights", "proportional", "full", "jurisdictional")
    assert len(store.read_sql("SELECT * FROM raw_inputs")) == len(datasets()) == 9
    assert len(store.read_sql("SELECT * FROM ownership_concentration WHERE run_date = :d", {"d": run_date})) == len(REGIMES) * len(conc)
    assert (workspace / "reports" / "report-2026-11-24.html").exists()
    assert not list((workspace / "staging").rglob("*.parquet"))
    assert not list(workspace.rglob("*.pkl"))                      # references between tasks, never pickles


def test_failed_run_alerts_and_notifies_the_operator_once(airflow_db, dagbag, workspace, tmp_path, monkeypatch):
    import pandas as pd
    from airflow.utils.state import DagRunState

    from conftest import write_sources
    from riskmodels import store

    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    df = pd.read_csv(ROOT / "data" / "market_shares.csv", dtype=str, keep_default_na=False)
    df.loc[0, "share_pct"] = "150"
    bad = tmp_path / "ms.csv"
    df.to_csv(bad, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"market_shares": str(bad)})))
    dag = dagbag.dags["ai_stack_daily"]
    dr = dag.test(logical_date=pendulum.datetime(2026, 11, 20, 6, tz="UTC"))
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == DagRunState.FAILED
    assert states["validate"] == "failed" and states["publish"] == "upstream_failed" and states["alerts"] == "failed"
    assert states["report"] == "upstream_failed" and states["cleanup"] == "success"
    # the failed dataset was alerted (to a file: no SMTP connection here) ...
    digest = (workspace / "outbox" / "digest-2026-11-20.eml").read_text()
    assert "dataset-failed-validation" in digest and "market_shares" in digest
    # ... and the operator was told once, though two tasks failed
    notes = list((workspace / "outbox" / "operator").glob("*.eml"))
    assert len(notes) == 1 and "validate" in notes[0].read_text()
    rows = store.read_sql("SELECT * FROM operator_notifications")
    assert len(rows) == 1 and rows.task_id.item() == "validate" and rows.transport.item() == "file"
    assert store.read_sql("SELECT COUNT(*) AS n FROM concentration").n.item() == 0


def test_sec_filings_dag_replays_edgar_and_is_safe_to_rerun(airflow_db, dagbag, workspace):
    """discover -> fetch -> load publishes the recorded filings; announce updates the Assets only
    when facts were written; a rerun of the day fetches nothing new and writes nothing."""
    from airflow.utils.state import DagRunState

    from riskmodels import store

    dag = dagbag.dags["sec_filings"]
    dr = dag.test(logical_date=pendulum.datetime(2026, 11, 24, 4, 30, tz="UTC"))
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == DagRunState.SUCCESS, states
    assert states == {"discover": "success", "fetch": "success", "load": "success", "announce": "success",
                      "alerts": "success"}
    filings = store.read_sql("SELECT accession, form, status FROM sec_filings")
    assert set(filings.status) == {"published"} and len(filings) == 8
    n = {t: store.read_sql(f"SELECT COUNT(*) AS n FROM {t}").n.item() for t in store.SEC_TABLES}
    assert all(n.values()), n
    fetches = len(store.read_sql("SELECT fetch_id FROM fetch_log"))
    dr2 = dag.test(logical_date=pendulum.datetime(2026, 11, 24, 4, 30, tz="UTC"))
    states = {ti.task_id: ti.state for ti in dr2.get_task_instances()}
    assert dr2.state == DagRunState.SUCCESS and states["announce"] == "skipped", states
    assert {t: store.read_sql(f"SELECT COUNT(*) AS n FROM {t}").n.item() for t in store.SEC_TABLES} == n
    again = store.read_sql("SELECT url, status, not_modified FROM fetch_log").iloc[fetches:]
    # the second day fetched no document again: only the discovery endpoints (JSON answers 304)
    assert not again.url.str.contains("/Archives/").any(), again
    assert again[again.url.str.contains("submissions/CIK0000789019")].not_modified.all()


def test_epoch_compute_dag_publishes_the_release_once_and_the_daily_run_scores_it(airflow_db, dagbag, workspace):
    """fetch_and_load publishes the recorded release and announce updates the Asset; a rerun gets a
    304 (nothing new: announce skipped); ai_stack_daily then publishes the compute markets."""
    from airflow.utils.state import DagRunState

    from riskmodels import store

    ep = dagbag.dags["epoch_compute"]
    dr = ep.test(logical_date=pendulum.datetime(2026, 11, 24, 5, tz="UTC"))
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == DagRunState.SUCCESS and states == {"fetch_and_load": "success", "announce": "success",
                                                          "alerts": "success"}, states
    rel = store.read_sql("SELECT dataset, status, rows, as_of FROM epoch_releases ORDER BY dataset")
    assert rel.to_dict("records") == [
        {"dataset": "data_centers", "status": "published", "rows": 17, "as_of": "2025-12-17"},
        {"dataset": "frontier_models", "status": "published", "rows": 137, "as_of": "2025-12-17"},
        {"dataset": "gpu_clusters", "status": "published", "rows": 786, "as_of": "2025-12-17"}]
    dr2 = ep.test(logical_date=pendulum.datetime(2026, 11, 24, 5, tz="UTC"))
    assert {ti.task_id: ti.state for ti in dr2.get_task_instances()}["announce"] == "skipped"
    assert store.read_sql("SELECT COUNT(*) AS n FROM epoch_clusters").n.item() == 786
    daily = dagbag.dags["ai_stack_daily"].test(logical_date=pendulum.datetime(2026, 11, 24, 6, tz="UTC"))
    assert daily.state == DagRunState.SUCCESS
    c = store.read_sql("SELECT market_id, period, hhi, top_entity_id FROM concentration WHERE layer = 'compute' "
                       "AND period = '2025Q4'").set_index("market_id")
    assert round(c.loc["compute.epoch.h100e-owner.ww", "hhi"]) == 1264
    assert c.loc["compute.epoch.h100e-owner.ww", "top_entity_id"] == "xai"
    assert c.loc["compute.epoch.h100e-vendor.ww", "top_entity_id"] == "nvidia"


def test_regulatory_feeds_dag_stores_the_candidates_once_and_announces_them(airflow_db, dagbag, workspace):
    """fetch_and_match stores the fixture feeds' candidates and announce updates the candidates
    Asset; a rerun finds nothing new (announce skipped); alerts waits for the daily digest."""
    from airflow.utils.state import DagRunState

    from riskmodels import store

    rf = dagbag.dags["regulatory_feeds"]
    assert {a.uri for a in rf.task_dict["announce"].outlets} == {"riskmodels://store/candidate_events"}
    dr = rf.test(logical_date=pendulum.datetime(2026, 12, 3, 5, 30, tz="UTC"))
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == DagRunState.SUCCESS and states == {"fetch_and_match": "success", "announce": "success",
                                                          "alerts": "skipped"}, states
    cand = store.read_sql("SELECT status, COUNT(*) AS n FROM candidate_events GROUP BY status")
    assert dict(zip(cand.status, cand.n)) == {"known": 8, "pending": 1}
    dr2 = rf.test(logical_date=pendulum.datetime(2026, 12, 3, 5, 30, tz="UTC"))
    assert {ti.task_id: ti.state for ti in dr2.get_task_instances()}["announce"] == "skipped"
    assert store.read_sql("SELECT COUNT(*) AS n FROM candidate_events").n.item() == 9
