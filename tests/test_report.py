"""The analyst's report, rendered in headless Chromium as a person would see it, plus exports."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, debian_tool, published_store, write_sources
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


def test_report_in_chromium(chromium, store_dir, tmp_path):
    from PIL import Image, ImageStat

    page = build_report(D)
    assert page == store_dir / "reports" / f"report-{D}.html"
    assert page.stat().st_size < 5_000_000
    dom, shot = render(chromium, page, tmp_path)
    for section in ("alerts", "concentration", "trends", "network", "lockin", "risk", "provenance", "quality"):
        assert f'id="{section}"' in dom, section
    # data quality, readable offline: every landed dataset with its suite's outcome
    quality = dom.split('id="quality"', 1)[1]
    assert quality.count("passed, ") >= 9 and "expect_column_values_to_be_between" in quality
    # the first-time reader's answers are at the top
    assert "Most concentrated markets" in dom and "Riskiest relationship</b>: Alphabet Inc. → Anthropic PBC" in dom
    # every source link points inside the page, and nothing loads from outside it
    assert not re.search(r'<(script|img|link|iframe|source|video|audio)[^>]+(src|href)="(https?:)?//', dom)
    assert "@import" not in dom and "url(http" not in dom
    anchors = set(re.findall(r'id="(src-[^"]+)"', dom))
    assert anchors and set(re.findall(r'href="#(src-[^"]+)"', dom)) <= anchors
    # the charts are drawn: every chart region of the screenshot has ink
    img = Image.open(shot).convert("L")
    rects = [tuple(map(int, r.split(","))) for r in re.findall(r'data-rect="([\d,]+)"', dom)]
    kinds = re.findall(r'data-chart="(\w+)"', dom)
    assert {"trend", "network", "heatmap"} <= set(kinds)
    assert 'aria-label="HHI trend accel.mizuho.ai-chips"' in dom  # one firm, one period: still drawn
    checked = 0
    for x, y, w, h in rects:
        if y + h > img.height:
            continue
        region = img.crop((x, y, x + w, y + h))
        stat = ImageStat.Stat(region)
        assert stat.stddev[0] > 10, f"blank chart at {(x, y, w, h)}"
        checked += 1
    assert checked >= 10


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
    assert len(paths) == len(store.SCORE_TABLES) == 14 and len(conc) >= 38
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
