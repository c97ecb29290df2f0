"""A real Airflow deployment, not `dags test`: api-server, scheduler and dag-processor on
PostgreSQL metadata (LocalExecutor), then the same with CeleryExecutor, Redis and one Celery
worker. Each test unpauses ai_stack_daily and waits for the *scheduled* run to succeed."""
from __future__ import annotations

import random
import time
import uuid

import pytest
import sqlalchemy as sa

from conftest import PG_URL, ROOT
from riskmodels.stack import AirflowStack

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres]
WAIT_SECONDS = 420


@pytest.fixture
def metadata_db():
    name = f"af_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg2", database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run_scheduled(stack: AirflowStack) -> dict:
    engine = sa.create_engine(stack.metadata_url)
    stack.migrate()
    stack.start()
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        t0 = time.monotonic()
        while time.monotonic() < deadline:   # the dag-processor must have serialised the DAG
            with engine.connect() as conn:
                if conn.execute(sa.text("SELECT 1 FROM dag WHERE dag_id = 'ai_stack_daily'")).first():
                    break
            assert not stack.dead(), f"{stack.dead()} exited:\n{stack.logs()}"
            time.sleep(2)
        while stack.executor == "CeleryExecutor" and not stack.workers_ready() and time.monotonic() < deadline:
            assert not stack.dead(), f"{stack.dead()} exited:\n{stack.logs()}"
            time.sleep(1)
        unpause = stack.airflow("dags", "unpause", "ai_stack_daily")
        assert unpause.returncode == 0, unpause.stderr[-2000:]
        t_unpaused = time.monotonic()
        state = None
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                row = conn.execute(sa.text(
                    "SELECT state, run_id FROM dag_run WHERE dag_id = 'ai_stack_daily' AND run_type = 'scheduled' "
                    "ORDER BY id DESC LIMIT 1")).first()
            state = row[0] if row else None
            if state in ("success", "failed"):
                break
            assert not stack.dead(), f"{stack.dead()} exited:\n{stack.logs()}"
            time.sleep(3)
        if state != "success":
            pytest.fail(f"scheduled run ended as {state!r} after {time.monotonic() - t_unpaused:.0f}s; failed tasks:\n"
                        f"{stack.failed_task_logs('ai_stack_daily', row[1]) if row else ''}\nlogs:\n{stack.logs()}")
        with engine.connect() as conn:
            tis = conn.execute(sa.text("SELECT task_id, state, map_index, hostname FROM task_instance "
                                       "WHERE dag_id = 'ai_stack_daily' AND run_id = :r ORDER BY start_date"),
                               {"r": row[1]}).all()
        return {"run_id": row[1], "seconds_after_unpause": time.monotonic() - t_unpaused,
                "seconds_total": time.monotonic() - t0, "tasks": tis}
    finally:
        stack.stop()
        engine.dispose()


@pytest.mark.parametrize("executor", ["LocalExecutor", "CeleryExecutor"])
def test_scheduled_run_succeeds(executor, metadata_db, tmp_path, pg_schema):
    var = tmp_path / "var"
    stack = AirflowStack(home=tmp_path / "airflow", metadata_url=metadata_db, dags_folder=ROOT / "dags",
                         executor=executor, broker_url=f"redis://127.0.0.1:6379/{random.randint(1, 15)}",
                         env={"RISKMODELS_DB_URL": pg_schema, "RISKMODELS_VAR": str(var),
                              "RISKMODELS_HOME": str(ROOT)})
    result = run_scheduled(stack)
    assert {t[0] for t in result["tasks"] if t[1] != "success"} == set(), result["tasks"]
    print(f"\n{executor}: scheduled run {result['run_id']} succeeded {result['seconds_after_unpause']:.0f}s "
          f"after unpause ({result['seconds_total']:.0f}s with start-up)")
    from riskmodels import store

    runs = store.read_sql("SELECT run_id, status FROM pipeline_runs")
    assert runs.run_id.str.startswith("scheduled__").all() and (runs.status == "published").all()
    assert store.read_sql("SELECT COUNT(*) AS n FROM concentration").n.item() >= 38


def test_two_celery_workers_with_their_own_disks_share_one_storage_root(metadata_db, tmp_path, pg_schema):
    """Two Celery workers, each with its own RISKMODELS_VAR (as on two hosts), one storage root:
    one scheduled run's tasks run on both, hand each other landing blobs and staged Parquet
    through the storage root, and publish."""
    shared = tmp_path / "shared-storage"
    workers = [{"RISKMODELS_VAR": str(tmp_path / f"worker-{i}" / "var"), "RISKMODELS_WORKER_NAME": f"worker-{i}"}
               for i in (1, 2)]
    stack = AirflowStack(home=tmp_path / "airflow", metadata_url=metadata_db, dags_folder=ROOT / "dags",
                         executor="CeleryExecutor", broker_url=f"redis://127.0.0.1:6379/{random.randint(1, 15)}",
                         env={"RISKMODELS_DB_URL": pg_schema, "RISKMODELS_VAR": str(tmp_path / "scheduler" / "var"),
                              "RISKMODELS_HOME": str(ROOT), "RISKMODELS_STORAGE_URL": shared.as_uri()},
                         workers=workers, worker_concurrency=1)
    result = run_scheduled(stack)
    tasks = result["tasks"]
    assert {t[0] for t in tasks if t[1] != "success"} == set(), tasks
    host = {(t[0], t[2]): t[3] for t in tasks}
    print("\ntask -> worker: " + ", ".join(f"{t}{'' if m < 0 else f'[{m}]'}={h}" for (t, m), h in host.items()))
    assert set(host.values()) == {"worker-1", "worker-2"}, host
    ingest_hosts = {h for (t, _), h in host.items() if t == "ingest"}
    consumers = [host[("validate", -1)], host[("score", -1)], host[("publish", -1)]]
    crossed = any(c != i for c in consumers for i in ingest_hosts) or host[("score", -1)] != host[("publish", -1)]
    assert crossed, f"no task read what a task on the other worker wrote: {host}"
    from riskmodels import store

    runs = store.read_sql("SELECT run_id, status FROM pipeline_runs")
    assert runs.status.tolist() == ["published"] and runs.run_id.item() == result["run_id"]
    assert store.read_sql("SELECT COUNT(*) AS n FROM concentration").n.item() >= 38
    landing = store.read_sql("SELECT landing_path FROM raw_inputs").landing_path
    assert landing.str.startswith(shared.as_uri()).all() and len(landing) == 9  # every dataset of sources.yaml
    assert (shared / "reports").exists() and list((shared / "landing" / "blobs").rglob("*.csv"))
    for w in workers:   # nothing another task needs was left on a worker's own disk
        local = tmp_path / w["RISKMODELS_WORKER_NAME"] / "var"
        assert not [p for p in local.rglob("*") if p.is_file() and "outbox" not in p.parts], list(local.rglob("*"))


def test_new_sec_facts_trigger_the_daily_run_through_its_assets(metadata_db, tmp_path, pg_schema):
    """The sec_filings DAG's scheduled run writes facts and updates its Assets; the scheduler then
    starts ai_stack_daily (AssetOrTimeSchedule) as an asset-triggered run, which publishes scores
    that include the filed facts, with the run date of the day it was triggered."""
    stack = AirflowStack(home=tmp_path / "airflow", metadata_url=metadata_db, dags_folder=ROOT / "dags",
                         executor="LocalExecutor",
                         env={"RISKMODELS_DB_URL": pg_schema, "RISKMODELS_VAR": str(tmp_path / "var"),
                              "RISKMODELS_HOME": str(ROOT)})
    engine = sa.create_engine(stack.metadata_url)
    stack.migrate()
    stack.start()

    def last(dag_id: str, run_type: str):
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT state, run_id FROM dag_run WHERE dag_id = :d AND run_type = :t "
                                        "ORDER BY id DESC LIMIT 1"), {"d": dag_id, "t": run_type}).first()

    try:
        deadline = time.monotonic() + WAIT_SECONDS + 240
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                n = conn.execute(sa.text("SELECT COUNT(*) FROM dag WHERE dag_id IN ('ai_stack_daily', 'sec_filings')"
                                         )).scalar()
            if n == 2:
                break
            assert not stack.dead(), f"{stack.dead()} exited:\n{stack.logs()}"
            time.sleep(2)
        for dag_id in ("sec_filings", "ai_stack_daily"):
            out = stack.airflow("dags", "unpause", dag_id)
            assert out.returncode == 0, out.stderr[-2000:]
        sec = asset = None
        while time.monotonic() < deadline:
            sec, asset = last("sec_filings", "scheduled"), last("ai_stack_daily", "asset_triggered")
            if sec and sec[0] == "failed":
                pytest.fail(f"sec_filings failed; logs:\n{stack.logs()}")
            if asset and asset[0] in ("success", "failed"):
                break
            assert not stack.dead(), f"{stack.dead()} exited:\n{stack.logs()}"
            time.sleep(3)
        assert sec and sec[0] == "success", (sec, stack.logs())
        assert asset and asset[0] == "success", (asset, stack.failed_task_logs("ai_stack_daily", asset[1]))
    finally:
        stack.stop()
        engine.dispose()
    from riskmodels import store

    runs = store.read_sql("SELECT run_id, run_date, status, input_hashes FROM pipeline_runs")
    triggered = runs[runs.run_id == asset[1]]
    assert triggered.status.tolist() == ["published"] and "sec_filings" in triggered.input_hashes.item()
    filed = store.read_sql("SELECT COUNT(*) AS n FROM market_share_facts WHERE confidence = 'filed' AND run_date = :d",
                           {"d": triggered.run_date.item()})
    assert filed.n.item() > 0


def test_the_review_dag_asks_through_required_actions_and_the_accepted_row_is_published(metadata_db, tmp_path,
                                                                                     pg_schema, replay):
    """A candidate from the fixture feeds waits in the review DAG's Required Actions (HITLEntryOperator);
    the answer comes through the REST API as the UI sends it; record accepts the row with the
    responder as reviewer; the reviewed-rows Asset starts ai_stack_daily, whose published scores
    carry the accepted event in the prior-scrutiny component."""
    import datetime as dt
    import json
    import urllib.request

    from riskmodels import store
    from riskmodels.sources.client import FetchClient
    from riskmodels.sources.feeds.daily import run_all

    http = FetchClient(family="test-review", user_agent="riskmodels tests tests@example.org", rewrite=replay.rewrite,
                       served_by="replay", per_second=None, retries=1, backoff=0.05)
    assert run_all(dt.date(2026, 12, 3), http=http)["pending"] == 1
    stack = AirflowStack(home=tmp_path / "airflow", metadata_url=metadata_db, dags_folder=ROOT / "dags",
                         executor="LocalExecutor",
                         env={"RISKMODELS_DB_URL": pg_schema, "RISKMODELS_VAR": str(tmp_path / "var"),
                              "RISKMODELS_HOME": str(ROOT)})
    engine = sa.create_engine(stack.metadata_url)
    base = f"http://127.0.0.1:{stack.api_port}"

    def call(method: str, path: str, body: dict | None = None, token: str | None = None):
        req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def last(dag_id: str, run_type: str | None = None):
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT state, run_id FROM dag_run WHERE dag_id = :d AND (:t IS NULL OR "
                                        "run_type = :t) ORDER BY id DESC LIMIT 1"), {"d": dag_id, "t": run_type}).first()

    stack.migrate()
    stack.start()
    try:
        deadline = time.monotonic() + WAIT_SECONDS + 300
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                n = conn.execute(sa.text("SELECT COUNT(*) FROM dag WHERE dag_id IN ('review', 'ai_stack_daily')")).scalar()
            if n == 2:
                break
            assert not stack.dead(), f"{stack.dead()} exited:\n{stack.logs()}"
            time.sleep(2)
        for dag_id in ("review", "ai_stack_daily"):
            assert stack.airflow("dags", "unpause", dag_id).returncode == 0
        assert stack.airflow("dags", "trigger", "review").returncode == 0
        while time.monotonic() < deadline and last("review") is None:
            time.sleep(1)
        run_id = last("review")[1]
        token = call("POST", "/auth/token", {"username": "admin", "password": "admin"})["access_token"]
        details = []
        while time.monotonic() < deadline:
            details = call("GET", f"/api/v2/dags/review/dagRuns/{run_id}/hitlDetails", token=token)["hitl_details"]
            if details:
                break
            assert (last("review")[0] or "") != "failed", stack.failed_task_logs("review", run_id)
            assert not stack.dead(), f"{stack.dead()} exited:\n{stack.logs()}"
            time.sleep(2)
        assert len(details) == 1 and details[0]["subject"].startswith("Ec16481a202: FTC 6(b)/market study")
        assert "X.AI Corp." in details[0]["body"] and details[0]["options"] == ["Accept", "Reject", "Later"]
        ti = details[0]["task_instance"]
        answer = call("PATCH", f"/api/v2/dags/review/dagRuns/{run_id}/taskInstances/{ti['task_id']}/{ti['map_index']}"
                      "/hitlDetails", {"chosen_options": ["Accept"],
                                       "params_input": {"note": "6(b) orders name xAI", "edits": ""}}, token=token)
        assert answer["chosen_options"] == ["Accept"]
        while time.monotonic() < deadline and last("review")[0] not in ("success", "failed"):
            time.sleep(2)
        assert last("review")[0] == "success", stack.failed_task_logs("review", run_id)
        daily = None
        while time.monotonic() < deadline:
            daily = last("ai_stack_daily", "asset_triggered")
            if daily and daily[0] in ("success", "failed"):
                break
            assert not stack.dead(), f"{stack.dead()} exited:\n{stack.logs()}"
            time.sleep(3)
        assert daily and daily[0] == "success", (daily, stack.logs())
    finally:
        stack.stop()
        engine.dispose()
    row = store.read_sql("SELECT status, reviewer, note FROM candidate_events WHERE candidate_id = 'Ec16481a202'")
    assert row.to_dict("records") == [{"status": "accepted", "reviewer": "admin", "note": "6(b) orders name xAI"}]
    run = store.read_sql("SELECT run_date, input_hashes FROM pipeline_runs WHERE run_id = :r", {"r": daily[1]})
    assert "reviewed_candidates" in run.input_hashes.item()
    s = store.read_sql("SELECT components FROM antitrust_scores WHERE run_date = :d AND subject_type = 'relationship' "
                       "AND subject_id = 'spacex->xai'", {"d": run.run_date.item()})
    assert json.loads(s.components.item())["prior_scrutiny"]["value"] == 0.3
