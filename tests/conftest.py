"""Test set-up. Airflow reads its configuration at import time, so the environment is set
here, before anything imports airflow: a temporary AIRFLOW_HOME with its own SQLite metadata
DB, examples off, the DAGs folder = this checkout's ``dags/``."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="riskmodels-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "RISKMODELS_HOME": str(ROOT),
})

PG_URL = os.environ.get("RISKMODELS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A private var/ directory and SQLite risk store for one test."""
    var = tmp_path / "var"
    monkeypatch.setenv("RISKMODELS_VAR", str(var))
    monkeypatch.setenv("RISKMODELS_DB_URL", f"sqlite:///{var / 'riskmodels.db'}")
    monkeypatch.delenv("RISKMODELS_SOURCES", raising=False)
    return var


@pytest.fixture
def replay():
    """A private replay server over the project's recorded source files (EDGAR's URL layout); a
    test makes it misbehave with ``replay.misbehave(url, ...)``."""
    from riskmodels.sources.replay import ReplayServer, manifest_paths

    server = ReplayServer(manifest_paths(ROOT))
    yield server
    server.close()


def debian_tool(binary: str, package: str) -> str:
    """Path of ``binary``, installing Debian's ``package`` first where it is missing (the tests'
    own setup: Chromium for the report, docker-compose for the compose file)."""
    import subprocess

    exe = shutil.which(binary)
    if exe is None:
        install = ["apt-get", "install", "-y", "-q", package]
        if subprocess.run(install, capture_output=True, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600)
            out = subprocess.run(install, capture_output=True, text=True, timeout=1200)
            assert out.returncode == 0, out.stderr[-2000:]
        exe = shutil.which(binary)
    return exe


SCREENSHOTS = ROOT / "var" / "screenshots"   # what the browser tests saw, to look at after the suite
BROWSER_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@contextlib.contextmanager
def browser_page(width: int = 1366, height: int = 900, netlog: Path | None = None):
    """A page in the system's headless Chromium driven by Playwright (no browser download), at
    ``width`` x ``height`` px; with ``netlog``, Chromium writes its own network log there on close."""
    from playwright.sync_api import sync_playwright

    exe = debian_tool("chromium", "chromium")
    args = BROWSER_FLAGS + ([f"--log-net-log={netlog}"] if netlog else [])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=args, headless=True)
        try:
            yield browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
        finally:
            browser.close()


def page_requests_in_netlog(netlog: Path) -> list[str]:
    """URLs of network requests a page made, from Chromium's net log (``--log-net-log``): every
    URL_REQUEST job with an initiator origin; the browser's own background requests (update
    checks, account probes) have none ("not an origin") and are not the page's."""
    import json

    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"]["url"] for e in log["events"] if e["type"] == start
            and e.get("params", {}).get("initiator", "not an origin") != "not an origin"]


@contextlib.contextmanager
def published_store(tmp_path_factory, name: str, dates):
    """A private SQLite store with the pipeline run for ``dates``, for module-scoped read-only tests."""
    from riskmodels import pipeline

    var = tmp_path_factory.mktemp(name) / "var"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISKMODELS_VAR", str(var))
        mp.setenv("RISKMODELS_DB_URL", f"sqlite:///{var / 'riskmodels.db'}")
        mp.delenv("RISKMODELS_SOURCES", raising=False)
        for d in dates:
            pipeline.run(d)
        yield var


@pytest.fixture
def pg_schema(workspace, monkeypatch):
    """A fresh PostgreSQL schema for one test (dropped afterwards); sets RISKMODELS_DB_URL."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    except sa.exc.OperationalError as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}. Start it (see .ci/run).")
    url = f"{PG_URL}?options=-csearch_path%3D{name}"
    monkeypatch.setenv("RISKMODELS_DB_URL", url)
    yield url
    from riskmodels import store

    store._engine(url).dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def write_sources(tmp_path: Path, overrides: dict[str, str], formats: dict[str, str] | None = None) -> Path:
    """A copy of config/sources.yaml with some datasets' locations (and formats) replaced."""
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "sources.yaml").read_text())
    for name, location in overrides.items():
        cfg["datasets"][name]["location"] = location
    for name, fmt in (formats or {}).items():
        cfg["datasets"][name]["format"] = fmt
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
