"""Runs at the same time share one store and one storage root: four `riskmodels run` processes
(two of one date, two of other dates) on SQLite and on PostgreSQL, the busy path, and the Data
Docs index rebuilt by writers in parallel."""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from riskmodels import store

SAME = "2026-11-24"
OTHERS = ("2026-11-23", "2026-11-25")


def _cli(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "riskmodels.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _counts(day: str) -> dict[str, int]:
    out = {}
    for name in store.SCORE_TABLES:
        out[name] = int(store.read_sql(f"SELECT COUNT(*) AS n FROM {name} WHERE run_date = :d",
                                       {"d": dt.date.fromisoformat(day)}).n.item())
    return out


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_four_concurrent_runs_two_of_one_date(backend, workspace, request):
    if backend == "postgresql":
        request.getfixturevalue("pg_schema")
    env = dict(os.environ)
    dates = [SAME, SAME, *OTHERS]
    t0 = time.monotonic()
    procs = [_cli("run", "--date", d, env=env) for d in dates]
    results = [(d, p.wait(timeout=600), *p.communicate()) for d, p in zip(dates, procs)]
    elapsed = time.monotonic() - t0
    outcome = [(d, rc, (err.strip().splitlines() or [""])[-1][:200]) for d, rc, _, err in results]
    print(f"\n{backend}: 4 concurrent runs in {elapsed:.0f}s: {outcome}")
    for d, rc, out, err in results:
        # every process ends cleanly: published, or (the second of a date) a clear busy message
        assert rc == 0 or (rc == 3 and d == SAME and "already publishing" in err), (d, rc, err[-3000:])
        assert "Traceback" not in err, err[-3000:]
    published = {d: json.loads(out)["rows"] for d, rc, out, _ in results if rc == 0}
    assert set(published) == set(dates)
    for d, rows in published.items():     # one complete set of rows per date
        assert _counts(d) == {k: v for k, v in rows.items() if k in store.SCORE_TABLES}, d
    runs = store.read_sql("SELECT run_date, status FROM pipeline_runs")
    assert sorted(runs[runs.status == "published"].run_date.astype(str)) == sorted(
        d for d, rc, _, _ in results if rc == 0)
    assert set(runs.status) <= {"published", "failed"}
    digests = store.read_sql("SELECT run_date FROM alert_outbox")
    assert digests.run_date.astype(str).is_unique
    # every run has its own Data Docs folder and the index lists them all
    index = (workspace / "gx" / "data_docs" / "index.html").read_text()
    assert index.count('href="runs/') == 4


def test_a_run_waiting_past_the_lock_timeout_exits_3_and_writes_nothing(pg_schema, workspace):
    env = dict(os.environ, RISKMODELS_LOCK_TIMEOUT_SECONDS="3")
    engine = store.get_engine()
    with engine.connect() as holder:                 # another publisher of the date holds its lock
        tx = holder.begin()
        holder.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"publish:{SAME}"})
        proc = _cli("run", "--date", SAME, env=env)
        rc = proc.wait(timeout=300)
        _, err = proc.communicate()
        tx.rollback()
    assert rc == 3, err[-3000:]
    assert f"a run of {SAME} is already publishing" in err and "Traceback" not in err
    assert sum(_counts(SAME).values()) == 0
    assert store.read_sql("SELECT status FROM pipeline_runs").status.tolist() == ["failed"]


def test_sqlite_store_locked_by_another_writer_exits_3(workspace):
    env = dict(os.environ, RISKMODELS_LOCK_TIMEOUT_SECONDS="2")
    engine = store.get_engine()                       # schema exists; now hold the write lock
    with store.transaction(engine) as conn:
        conn.execute(sa.text("DELETE FROM pipeline_runs WHERE run_id = 'none'"))
        proc = _cli("run", "--date", SAME, env=env)
        rc = proc.wait(timeout=300)
        _, err = proc.communicate()
    assert rc == 3 and "locked" in err and "Traceback" not in err, err[-3000:]


def _index_writer(var: str, worker: int, runs: int) -> None:
    os.environ["RISKMODELS_VAR"] = var
    from riskmodels import datadocs, storage

    for i in range(runs):
        folder = datadocs.docs_root() / "runs" / f"w{worker}-r{i}"
        storage.write_text(folder / "index.html", "<html></html>")
        storage.write_text(folder / "run.json", json.dumps({"run_id": f"w{worker}-r{i}", "run_date": "2026-11-24",
                                                            "datasets": {}}))
        datadocs.rebuild_index()


def test_data_docs_index_lists_every_run_written_in_parallel(tmp_path):
    var = str(tmp_path / "var")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_index_writer, args=(var, w, 15)) for w in range(6)]
    [p.start() for p in procs]
    [p.join(300) for p in procs]
    assert all(p.exitcode == 0 for p in procs)
    index = (tmp_path / "var" / "gx" / "data_docs" / "index.html").read_text()
    assert {f"w{w}-r{i}" for w in range(6) for i in range(15)} == {
        x.split('"')[0].split("/")[0] for x in index.split('href="runs/')[1:]}
