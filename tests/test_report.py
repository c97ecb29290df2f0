"""The analyst's report, rendered in headless Chromium as a person would see it, plus exports."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import ROOT, SCREENSHOTS, browser_page, debian_tool, page_requests_in_netlog, published_store, write_sources
from riskmodels import store
from riskmodels.htmlreport import build_report

D = dt.date(2026, 11, 24)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def chromium():
    return debian_tool("chromium", "chromium")


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    with published_store(tmp_path_factory, "report", [dt.date(2026, 11, 23), D]) as var:
        yield var


def render(chromium, page, tmp_path):
    profile = tmp_path / "profile"
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    height = int(re.search(r'data-height="(\d+)"', dom).group(1))
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size=1280,{min(height, 16000)}",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    return dom, shot


def _ink(png: bytes) -> float:
    """Grey-level standard deviation of a screenshot: ~0 for a blank region."""
    import io

    from PIL import Image, ImageStat

    return ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L")).stddev[0]


def test_report_in_a_real_browser(store_dir, tmp_path):
    import time

    t0 = time.perf_counter()
    page = build_report(D)
    built = time.perf_counter() - t0
    assert page == store_dir / "reports" / f"report-{D}.html"
    assert page.stat().st_size < 5_000_000
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    netlog = tmp_path / "netlog.json"
    with browser_page(1366, 900, netlog=netlog) as pg:
        pg.goto(page.as_uri())
        pg.wait_for_load_state("load")
        # the sections, in the order an analyst asks
        ids = pg.eval_on_selector_all("h2[id]", "els => els.map(e => e.id)")
        assert ids[:4] == ["changes", "concepts", "network", "risk"] and ids[-1] == "provenance"
        for section in ("alerts", "trends", "concentration", "lockin", "quality", "filings", "compute"):
            assert pg.locator(f"#{section}").count() == 1, section
        assert "Most concentrated markets" in pg.inner_text(".summary")
        assert "Riskiest relationship: Alphabet Inc. → Anthropic PBC" in pg.inner_text(".summary")
        changes = pg.inner_text("#changes + p")
        assert re.search(r"Against the run of 2026-11-23: \d+ new crossing", changes), changes
        # every chart has a title, titled axes with units, hover values, a caption with the age, and ink
        figures = pg.locator("figure.chart")
        assert figures.count() >= 5
        for i in range(figures.count()):
            fig = figures.nth(i)
            assert fig.get_attribute("data-title"), i
            svg = fig.locator("svg")
            assert "HHI (points)" in svg.inner_html()                 # the value axis, with its unit
            assert fig.locator("svg title").count() > 0              # hover values on the marks
            assert re.search(r"days (old|before)", fig.locator("figcaption").inner_text())
            assert _ink(svg.screenshot()) > 10, fig.get_attribute("data-title")
        zone_labels = pg.locator("figure.chart-trend svg").first.inner_html()
        assert "highly concentrated" in zone_labels and "unconcentrated" in zone_labels
        # a single-period series is a labelled dot, not an empty line chart
        dots = pg.locator("figure.chart-dots").inner_html()
        assert "AI chips, worldwide — Mizuho (2024FY)" in dots and "9,025" in dots
        assert pg.locator('figure.chart-trend svg[aria-label="HHI trend accel.mizuho.ai-chips"]').count() == 0
        for kind in ("network", "heatmap"):
            region = pg.locator(f'[data-chart="{kind}"]')
            assert region.count() == 1 and _ink(region.screenshot()) > 10, kind
        assert "→" in pg.locator('[data-chart="network"] path title').first.text_content()   # hover: who, what, $
        # readable at 1,366 px: nothing runs off the right edge
        assert pg.evaluate("document.documentElement.scrollWidth") <= 1366
        # a table filter narrows the rows; a header click sorts them
        table = pg.locator("#provenance + .tools + table")
        box = pg.locator("#provenance + .tools input")
        visible = "t => Array.from(t.rows).slice(1).filter(r => r.style.display !== 'none').length"
        before = table.evaluate(visible)
        box.fill("nvidia")
        after = table.evaluate(visible)
        assert 0 < after < before and f"showing {after} of {before} rows" in pg.inner_text("#provenance + .tools")
        box.fill("")
        assert table.evaluate(visible) == before
        hhi = pg.locator("#concentration ~ table").first
        hhi.locator("th", has_text="HHI").first.click()
        col = hhi.evaluate("t => Array.from(t.rows[0].cells).findIndex(c => c.textContent.startsWith('HHI'))")
        values = hhi.evaluate(f"t => Array.from(t.rows).slice(1).map(r => parseFloat(r.cells[{col}].textContent"
                              ".replace(/,/g, '')))")
        assert len(values) > 1 and values == sorted(values)
        pg.evaluate("window.scrollTo(0, 0)")
        pg.screenshot(path=str(SCREENSHOTS / "report-1366-top.png"))
        pg.screenshot(path=str(SCREENSHOTS / "report-1366-full.png"), full_page=True)
        pg.locator("#network").scroll_into_view_if_needed()
        pg.screenshot(path=str(SCREENSHOTS / "report-1366-network.png"))
        pg.locator("figure.chart-dots").screenshot(path=str(SCREENSHOTS / "report-dot-plot.png"))
        # printed to PDF: the filter boxes are gone, the page is still whole
        pg.emulate_media(media="print")
        assert pg.locator(".tools").first.is_hidden()
        pdf = pg.pdf(path=str(SCREENSHOTS / "report.pdf"), format="A4", print_background=True)
        assert pdf[:4] == b"%PDF" and pdf.count(b"/Type /Page") > 10
    # the page made no network request: Chromium's own net log, not only the DOM
    assert page_requests_in_netlog(netlog) == []
    (SCREENSHOTS / "report-build.txt").write_text(f"{page.stat().st_size} bytes, built in {built:.1f} s\n")


def test_the_net_log_check_sees_a_page_that_fetches(tmp_path):
    # the control: a page that loads one image from a (closed) loopback port is caught by the same check
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = tmp_path / "fetching.html"
    page.write_text(f"<!doctype html><p>x</p><img src='http://127.0.0.1:{port}/pixel.png'>")
    netlog = tmp_path / "netlog.json"
    with browser_page(400, 300, netlog=netlog) as pg:
        pg.goto(page.as_uri())
        pg.wait_for_load_state("load")
    assert page_requests_in_netlog(netlog) == [f"http://127.0.0.1:{port}/pixel.png"]


def test_empty_and_degenerate_inputs_render_no_data(chromium, tmp_path, workspace):
    # nothing published at all
    page = build_report(dt.date(2020, 1, 1), tmp_path / "empty")
    dom, _ = render(chromium, page, tmp_path)
    assert dom.count("No data:") >= 5 and "Most concentrated markets</b> (fresh series, latest period): no data" in dom
    # an early date: only the 2022 cloud series were published by then; no relationship had a
    # price or a lock-in score yet
    from riskmodels import pipeline

    pipeline.run(dt.date(2023, 3, 31))
    page = build_report(dt.date(2023, 3, 31), tmp_path / "early")
    dom, _ = render(chromium, page, tmp_path)
    assert 'data-chart="trend"' in dom and "cloud.synergy.ww" in dom and "accel." not in dom


def test_export_and_backfill(store_dir, tmp_path):
    from riskmodels.report import export

    paths = export(D, "parquet", tmp_path / "pq")
    conc = pd.read_parquet(tmp_path / "pq" / "concentration.parquet")
    assert len(paths) == len(store.SCORE_TABLES) == 15 and len(conc) >= 38
    csvs = export(D, "csv", tmp_path / "csv")
    assert pd.read_csv(csvs[0]).shape[0] > 0
    env = {**os.environ, "RISKMODELS_VAR": str(tmp_path / "bf"), "RISKMODELS_DB_URL": f"sqlite:///{tmp_path / 'bf.db'}"}
    out = subprocess.run([sys.executable, "-m", "riskmodels.cli", "backfill", "--start", "2026-11-20", "--end",
                          "2026-11-21"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "backfill: 100%" in out.stderr and '"days": 2' in out.stdout


def test_the_report_shows_a_quarantined_dataset_with_its_failing_rows(tmp_path, workspace, monkeypatch):
    import pandas as pd

    from riskmodels import pipeline
    from riskmodels.validate import DataQualityError

    shares = pd.read_csv(ROOT / "data" / "market_shares.csv", dtype=str, keep_default_na=False)
    shares.loc[3, "share_pct"] = "lots"
    bad = tmp_path / "market_shares.csv"
    shares.to_csv(bad, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"market_shares": str(bad)})))
    with pytest.raises(DataQualityError):
        pipeline.run(D)
    quality = build_report(D, tmp_path / "out").read_text().split("id='quality'", 1)[1]
    assert "market_shares: failed: quarantined" in quality and "__bad_share_pct" in quality
    assert "row 4: " in quality and "lots" in quality          # index 3: the 4th data row (1-based)


def test_what_changed_names_the_deals_that_arrived_between_two_runs(tmp_path, workspace):
    # 2025-11-18: Anthropic's $30bn Azure commitment, Nvidia's up-to-$10bn and Microsoft's up-to-$5bn
    # stakes become known; the report of 11-19 against the run of 11-17 must name them
    from riskmodels import pipeline
    from riskmodels.report import changes_tables

    pipeline.run(dt.date(2025, 11, 17))
    pipeline.run(dt.date(2025, 11, 19))
    t = changes_tables(dt.date(2025, 11, 19))
    assert str(t["previous"]) == "2025-11-17"
    deals = t["deals"]
    pairs = set(zip(deals["from_id"], deals["to_id"]))
    assert {("anthropic", "microsoft-azure"), ("nvidia", "anthropic"), ("microsoft", "anthropic")} <= pairs
    azure = deals[(deals["from_id"] == "anthropic") & (deals["to_id"] == "microsoft-azure")].iloc[0]
    assert azure["kind"] == "compute deal" and azure["amount_usd_bn"] == 30.0
    assert set(deals["date"]) <= {"2025-11-18", "2025-11-19"}            # nothing older is "new"
    assert len(t["scores"]) and (t["scores"]["score_change"].abs() >= 0.5).all()
    # the same day compared with itself has no change at all
    again = changes_tables(dt.date(2025, 11, 17))
    assert again["previous"] is None and again["deals"].empty
    page = build_report(dt.date(2025, 11, 19), tmp_path)
    text = page.read_text()
    changed = text.split("id='changes'", 1)[1].split("id='alerts'", 1)[0]
    assert "Against the run of 2025-11-17" in changed and "New stakes and deals" in changed
    assert "Anthropic PBC</td><td>Microsoft Azure</td><td>30 (reported)" in changed
    assert "Moved antitrust scores" in changed


def test_what_changed_when_the_only_hhi_changes_are_new_market_periods(workspace):
    # the asset-triggered run after midnight compared with the scheduled run of the day before:
    # market-periods the earlier run did not have come back with an all-NULL hhi_change column
    from riskmodels import pipeline
    from riskmodels.config import get_settings
    from riskmodels.report import changes_tables

    pipeline.run(dt.date(2025, 10, 1))
    pipeline.run(dt.date(2025, 10, 2))
    with store._engine(get_settings().db_url).begin() as conn:
        gone = conn.execute(sa.text("DELETE FROM concentration WHERE run_date = '2025-10-01' AND market_id = "
                                    "(SELECT MIN(market_id) FROM concentration WHERE run_date = '2025-10-01')")).rowcount
    t = changes_tables(dt.date(2025, 10, 2))
    assert str(t["previous"]) == "2025-10-01" and gone > 0
    assert len(t["hhi"]) == gone and t["hhi"]["previous_hhi"].isna().all() and t["hhi"]["hhi"].notna().all()
    assert t["hhi"]["hhi_change"].dtype == "float64"


def test_the_report_lists_durable_dominance(tmp_path, workspace):
    from riskmodels import pipeline

    pipeline.run(dt.date(2025, 10, 29))
    text = build_report(dt.date(2025, 10, 29), tmp_path).read_text()
    part = text.split("id='dominance'", 1)[1].split("</table>", 1)[0]
    rows = part.split("<tr>")[2:]
    # durably dominant first: AWS in Gartner IaaS (2022FY-2023FY at 30%+), Nvidia in TechInsights units
    assert "Amazon Web Services" in rows[0] and "durably dominant" in rows[0] and "cloud.gartner-iaas.ww" in rows[0]
    assert sum("durably dominant" in r for r in rows) == 2
    assert "not assessed (stale series)" in part and "unverified" in part
