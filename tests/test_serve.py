"""`riskmodels serve`: the store in a real Datasette, read-only, described, with canned queries."""
from __future__ import annotations

import datetime as dt
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import SCREENSHOTS, browser_page
from riskmodels import serve


def test_every_column_an_analyst_reads_is_described_and_no_description_is_stale():
    from riskmodels import store

    docs = serve.table_docs()
    analyst = [*store.SCORE_TABLES, *store.DIMENSION_TABLES, "alert_state"]
    missing = {t: sorted({c.name for c in serve._tables()[t].columns} - set(docs[t]["columns"])) for t in analyst}
    assert {t: m for t, m in missing.items() if m} == {}
    assert all(docs[t]["description"] for t in analyst)
    from riskmodels.config import get_settings, load_yaml

    written = load_yaml(get_settings().home / "config" / "store_docs.yaml")["tables"]
    stale = {t: sorted(set((d.get("columns") or {})) - {c.name for c in serve._tables()[t].columns})
             for t, d in written.items()}
    assert {t: s for t, s in stale.items() if s} == {}
    meta = serve.datasette_metadata()["databases"]["riskmodels"]
    assert meta["tables"]["concentration"]["facets"] == ["layer", "analyst", "zone"]
    assert "points" in meta["tables"]["concentration"]["columns"]["hhi"]
    assert set(meta["queries"]) == {"most_concentrated_now", "changed_since_previous_run", "who_holds_stakes_in",
                                    "money_loops_involving", "source_rows_behind_hhi"}


def test_serve_refuses_a_store_that_is_not_sqlite(monkeypatch):
    monkeypatch.setenv("RISKMODELS_DB_URL", "postgresql+psycopg://127.0.0.1/test")
    with pytest.raises(ValueError, match="riskmodels_analyst"):
        serve.sqlite_path(serve.get_settings())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_datasette_serves_the_store_read_only_with_canned_queries(workspace):
    from riskmodels import pipeline

    pipeline.run(dt.date(2026, 11, 30))
    pipeline.run(dt.date(2026, 12, 1))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "riskmodels.cli", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/riskmodels" in first          # the printed address
        # keep reading its request log, or a full pipe stalls the server
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        for _ in range(120):
            try:
                if _get(f"{base}/-/versions.json")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("datasette did not start")

        def rows(path: str, **params) -> list[dict]:
            q = urllib.parse.urlencode({"_shape": "array", **params})
            status, _, body = _get(f"{base}/riskmodels/{path}.json?{q}")
            assert status == 200, body[-400:]
            return json.loads(body)

        top = rows("most_concentrated_now")
        assert top and top[0]["hhi"] >= top[-1]["hhi"] and all(r["data_age_days"] >= 0 for r in top)
        changed = rows("changed_since_previous_run")
        assert all(r["what"] in ("new", "changed") for r in changed)
        stakes = rows("who_holds_stakes_in", firm="anthropic")
        assert {"amazon", "alphabet"} <= {r["investor_id"] for r in stakes}
        assert rows("money_loops_involving", firm="anthropic")
        behind = rows("source_rows_behind_hhi", market="cloud.canalys.ww", period="2025Q4")
        assert sorted(r["share_pct"] for r in behind) == [12.0, 22.0, 32.0]   # Omdia 2025Q4: HHI 1,652
        # CSV export downloads
        status, headers, body = _get(f"{base}/riskmodels/concentration.csv?_size=max&_dl=1")
        lines = body.decode().splitlines()
        assert status == 200 and "attachment" in headers.get("content-disposition", "")
        assert "market_id" in lines[0].split(",") and len(lines) > 40
        # descriptions, facets and links
        status, _, body = _get(f"{base}/riskmodels/concentration.json?_size=1&_extra=facet_results")
        facets = json.loads(body).get("facet_results", {})
        assert {"layer", "analyst", "zone"} <= set(facets.get("results", facets))
        status, _, html = _get(f"{base}/riskmodels/market_share_facts?_size=5")
        assert status == 200 and b'<a href="https://' in html
        meta = json.loads(_get(f"{base}/-/metadata.json")[2])
        assert "points" in meta["databases"]["riskmodels"]["tables"]["concentration"]["columns"]["hhi"]
        # writing is refused (immutable database; only SELECT runs)
        status, _, body = _get(f"{base}/riskmodels.json?" + urllib.parse.urlencode({"sql": "DELETE FROM entities"}))
        assert status >= 400 and b"SELECT" in body
        req = urllib.request.Request(f"{base}/riskmodels/entities/-/insert", method="POST",
                                     data=json.dumps({"row": {"entity_id": "x"}}).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            code = urllib.request.urlopen(req, timeout=30).status
        except urllib.error.HTTPError as exc:
            code = exc.code
        assert code >= 400
        # the same in a real browser, as an analyst clicks through it
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with browser_page(1366, 900) as pg:
            pg.goto(f"{base}/riskmodels/most_concentrated_now")
            shown = pg.locator("table.rows-and-columns tbody tr")
            assert shown.count() > 5 and "most concentrated" in pg.content().lower()
            pg.screenshot(path=str(SCREENSHOTS / "datasette-most-concentrated-now.png"))
            pg.goto(f"{base}/riskmodels/who_holds_stakes_in?firm=anthropic")
            assert "amazon" in pg.locator("table.rows-and-columns").inner_text()
            pg.locator("a", has_text=re.compile(r"^CSV$")).first.click()       # the query's CSV, in the page
            assert pg.locator("body").inner_text().startswith("date,investor_id")
            # the table's "Export CSV" with "download file" ticked downloads a file
            pg.goto(f"{base}/riskmodels/concentration")
            pg.locator("input[name=_dl]").check()
            with pg.expect_download() as dl:
                pg.locator("input[type=submit][value='Export CSV']").click()
            assert dl.value.suggested_filename.endswith(".csv")
            with open(dl.value.path()) as fh:
                lines = fh.readlines()
            assert "market_id" in lines[0] and len(lines) > 40
            pg.goto(f"{base}/riskmodels?" + urllib.parse.urlencode({"sql": "DELETE FROM entities"}))
            assert "SELECT" in pg.locator("body").inner_text()          # refused: only SELECT runs
            pg.screenshot(path=str(SCREENSHOTS / "datasette-write-refused.png"))
            pg.goto(f"{base}/riskmodels/concentration")
            assert pg.locator(".facet-info").count() >= 3                    # layer / analyst / zone facets
            pg.locator(".facet-info").first.scroll_into_view_if_needed()
            pg.screenshot(path=str(SCREENSHOTS / "datasette-concentration-facets.png"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    from riskmodels import store

    assert len(store.read_sql("SELECT * FROM entities WHERE entity_id = 'x'")) == 0


def test_every_analyst_view_is_described():
    import re

    from riskmodels.config import get_settings
    from riskmodels.store import view_statements

    views = {re.search(r"CREATE VIEW\s+(\w+)", s, re.I).group(1) for s in view_statements(get_settings().home / "sql")}
    meta = serve.datasette_metadata()["databases"]["riskmodels"]["tables"]
    assert views <= set(meta) and all(meta[v]["description"] for v in views)
