"""The PostgreSQL risk store: concurrent publishes of one date, parallel dates, the analyst role."""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import PG_URL, ROOT
from riskmodels import pipeline, store

pytestmark = pytest.mark.postgres
D = dt.date(2026, 11, 24)


def staged(workspace) -> tuple[list[dict], dict]:
    refs = [pipeline.ingest(n, D) for n in pipeline.datasets()]
    pipeline.validate(refs, D)
    return refs, pipeline.score(refs, D, "stage-a")


def variant(staged_ref: dict, tmp_path, delta: float) -> dict:
    """A copy of a staged score set with every HHI shifted by ``delta`` (to tell two sets apart)."""
    frames = pipeline.staged_frames(staged_ref)
    frames["concentration"] = frames["concentration"].assign(hhi=frames["concentration"]["hhi"] + delta)
    return pipeline.stage_frames(frames, D, f"variant-{delta}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_publishes_of_one_date_leave_one_complete_set(backend, workspace, request, tmp_path):
    if backend == "postgresql":
        request.getfixturevalue("pg_schema")
    refs, a = staged(workspace)
    b = variant(a, tmp_path, 0.5)
    expected = store.read_sql("SELECT 1 AS x").x.item()  # warm the engine and schema
    errors, barrier = [], threading.Barrier(2)

    def go(stage, run_id):
        try:
            barrier.wait()
            pipeline.publish(stage, refs, D, run_id)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(s, r)) for s, r in ((a, "run-a"), (b, "run-b"))]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert not errors, errors
    conc = store.read_sql("SELECT hhi FROM concentration WHERE run_date = :d", {"d": D})
    shifted = (conc.hhi * 2 % 1 == 1).sum()       # the variant's HHIs end in .5 (the shares are whole or .x)
    assert len(conc) == a["rows"]["concentration"] and expected == 1
    assert shifted in (0, len(conc)), "rows of both publishes are mixed"
    for name, n in a["rows"].items():
        got = store.read_sql(f"SELECT COUNT(*) AS n FROM {name} WHERE run_date = :d", {"d": D}).n.item()
        assert got == n, name
    assert sorted(store.read_sql("SELECT run_id FROM pipeline_runs").run_id) == ["run-a", "run-b"]


def test_other_dates_publish_while_one_date_is_locked(pg_schema, workspace):
    refs, a = staged(workspace)
    other = dt.date(2026, 11, 25)
    engine = store.get_engine()
    done = {}

    stages = {D: a, other: pipeline.stage_frames(pipeline.staged_frames(a), other, "other")}

    def publish(day, run_id):
        pipeline.publish(stages[day], refs, day, run_id)
        done[day] = time.monotonic()

    with engine.connect() as holder:                 # another publisher of D holds D's lock
        tx = holder.begin()
        holder.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"publish:{D}"})
        blocked = threading.Thread(target=publish, args=(D, "waits"))
        blocked.start()
        publish(other, "free")                       # a different date is not held up
        time.sleep(1.0)
        assert other in done and D not in done
        tx.commit()
    blocked.join(60)
    assert D in done and done[D] > done[other]


def test_analyst_role_reads_views_and_nothing_else(pg_schema, workspace):
    pipeline.run(D)
    engine = store.get_engine()
    schema = sa.engine.make_url(pg_schema).query["options"].split("=")[1]
    login = f"analyst_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text((ROOT / "sql" / "roles.sql").read_text()))
        conn.execute(sa.text(f'CREATE ROLE "{login}" LOGIN IN ROLE riskmodels_analyst'))
    analyst = sa.create_engine(sa.engine.make_url(PG_URL).set(username=login),
                               connect_args={"options": f"-csearch_path={schema}"})
    try:
        with analyst.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM v_latest_concentration")).scalar() > 10
            assert conn.execute(sa.text("SELECT COUNT(*) FROM v_latest_antitrust")).scalar() > 10
        for stmt in ("SELECT * FROM concentration", "INSERT INTO markets (market_id, layer, definition, geography, "
                     "analyst, metric) VALUES ('x', 'cloud', 'd', 'g', 'a', 'm')", "UPDATE markets SET layer = 'x'",
                     "DELETE FROM concentration", "CREATE TABLE evil (x int)", "DROP VIEW v_latest_concentration",
                     "CREATE VIEW v_evil AS SELECT 1"):
            with analyst.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
                conn.execute(sa.text(stmt))
    finally:
        analyst.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{login}"'))
            conn.execute(sa.text(f'DROP ROLE "{login}"'))


def _same_value(v):
    """A stored value as both backends should agree on it: missing, a number (booleans as 0/1), or text."""
    import numbers

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, numbers.Number) or type(v).__name__ == "bool_":
        return float(v)
    return str(v)[:19]


def test_copy_fast_path_writes_what_sqlite_writes(pg_schema, workspace, tmp_path, monkeypatch):
    """PostgreSQL takes the score tables through COPY; every value must read back as SQLite's
    executemany path stores it (types, NULLs, empty strings, JSON text, booleans)."""
    refs, ref = staged(workspace)
    again = pipeline.stage_frames(pipeline.staged_frames(ref), D, "stage-again")   # publishing removes a stage
    pipeline.publish(ref, refs, D, "pg-run")
    def read(name):
        key = ", ".join(c.name for c in store.metadata.tables[name].primary_key.columns)
        return store.read_sql(f"SELECT * FROM {name} ORDER BY {key}")

    on_pg = {n: read(n) for n in ref["tables"]}
    monkeypatch.setenv("RISKMODELS_DB_URL", f"sqlite:///{tmp_path / 'copy-check.db'}")
    pipeline.publish(again, refs, D, "sqlite-run")
    for name, pg in on_pg.items():
        lite = read(name)
        assert len(pg) == len(lite) > 0, name
        for col in lite.columns:
            a, b = pg[col], lite[col]
            if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
                pd.testing.assert_series_equal(a.astype(float), b.astype(float), check_names=False, obj=f"{name}.{col}")
            else:
                # a nullable boolean reads back as True/False/None from PostgreSQL, 1/0/NaN from SQLite
                assert [_same_value(v) for v in a] == [_same_value(v) for v in b], f"{name}.{col}"


def test_an_existing_store_with_eight_character_periods_is_widened_in_place(pg_schema, workspace):
    """A deployment created before day labels (2026-01-02) had VARCHAR(8) periods: init_db widens them
    (dropping and recreating the views that depend on them) and keeps the rows."""
    import re

    import sqlalchemy as sa

    from riskmodels import store
    from riskmodels.config import get_settings

    engine = store._engine(pg_schema)
    sql_dir = get_settings().home / "sql"
    store.init_db(engine, sql_dir)
    with engine.begin() as conn:
        for stmt in reversed(store.view_statements(sql_dir)):
            name = re.search(r"CREATE VIEW\s+(\w+)", stmt, re.I).group(1)
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {name} CASCADE"))
        conn.execute(sa.text("ALTER TABLE concentration ALTER COLUMN period TYPE VARCHAR(8)"))
        for stmt in store.view_statements(sql_dir):
            conn.execute(sa.text(stmt))
        conn.execute(sa.text("INSERT INTO markets VALUES ('m.1', 'model', 'd', 'worldwide', 'a', 'share')"))
    store._initialised.clear()
    store.init_db(engine, sql_dir)
    with engine.begin() as conn:
        length = conn.execute(sa.text("SELECT character_maximum_length FROM information_schema.columns WHERE "
                                      "table_name = 'concentration' AND column_name = 'period' AND "
                                      "table_schema = current_schema()")).scalar()
        views = conn.execute(sa.text("SELECT COUNT(*) FROM information_schema.views WHERE "
                                     "table_schema = current_schema()")).scalar()
        kept = conn.execute(sa.text("SELECT COUNT(*) FROM markets")).scalar()
    assert length == 10 and views == len(store.view_statements(sql_dir)) and kept == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_store_with_the_first_screens_layout_keeps_it_aside_and_publishes(backend, workspace, request):
    # screens was first keyed by (run_date, investor_id, investee_id, screen); the subject-keyed
    # layout replaces it, and the old rows stay readable in screens_v1
    if backend == "postgresql":
        request.getfixturevalue("pg_schema")
    from riskmodels.config import get_settings

    url = get_settings().db_url
    workspace.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE screens (run_date DATE NOT NULL, investor_id VARCHAR(64) NOT NULL, "
                             "investee_id VARCHAR(64) NOT NULL, screen VARCHAR(32) NOT NULL, verdict TEXT NOT NULL, "
                             "verified VARCHAR(16) NOT NULL, source TEXT NOT NULL, "
                             "CONSTRAINT screens_pkey PRIMARY KEY (run_date, investor_id, investee_id, screen))"))
        conn.execute(sa.text("INSERT INTO screens VALUES ('2025-10-01', 'a', 'b', 'control.uk', 'v', 'unverified', 's')"))
    engine.dispose()
    pipeline.run(dt.date(2025, 10, 29))
    old = store.read_sql("SELECT * FROM screens_v1")
    assert old[["investor_id", "investee_id", "screen"]].values.tolist() == [["a", "b", "control.uk"]]
    new = store.read_sql("SELECT subject_type, COUNT(*) AS n FROM screens GROUP BY subject_type")
    assert set(new["subject_type"]) == {"relationship", "firm"} and (new["n"] > 0).all()
