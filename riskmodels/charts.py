"""The report's charts: Vega-Lite specs built with Altair and rendered offline to inline SVG by
vl-convert (no browser, no network: the page stays one self-contained file).

Every chart comes as an HTML ``<figure>`` with a title, titled axes with units, the merger-guideline
zones drawn and labelled, hover values (each mark's ``<title>``) and a one-line caption saying what
it shows and how old its latest point is. A series with a single period is not drawn as an empty
line chart: all such series share one compact dot plot.

Units: HHI in points (0-10,000), shares in percent (0-100), ages in days before the run date.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

E = html.escape
ZONE_COLOURS = {"unconcentrated": "#e3f1e3", "moderately concentrated": "#fff3cd", "highly concentrated": "#f8d7d3"}
SHORT = {"unconcentrated": "unconc.", "moderately concentrated": "mod."}   # narrow bands on a 0-10,000 axis
# a metric-compatible font both vl-convert (which measures the text) and the browser (which draws it) find
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
_MARK = re.compile(r'<path ([^>]*?)role="graphics-symbol"([^>]*?)aria-label="([^"]*)"([^>]*?)/>')
_MARK2 = re.compile(r'<path ([^>]*?)aria-label="([^"]*)"([^>]*?)role="graphics-symbol"([^>]*?)/>')


@lru_cache(maxsize=4)
def zone_bands(guidelines_file: str, guideline: str = "us-2023") -> tuple[tuple[str, float, float, str], ...]:
    """The guideline's HHI zones as ``(name, from, to, rule)`` in points, lowest first, read from
    ``config/guidelines.yaml`` (2023 DOJ/FTC Merger Guidelines, Guideline 1, by default)."""
    from .config import load_yaml

    zones = load_yaml(Path(guidelines_file))["guidelines"][guideline]["zones"]
    cuts = [(z["name"], float(z["hhi"][1]), z["hhi"][0]) for z in zones if "hhi" in z]  # highest first
    out, upper = [], 10_000.0
    for name, value, op in cuts:
        out.append((name, value, upper, f"HHI {op} {value:,.0f}"))
        upper = value
    rest = next(z["name"] for z in zones if "hhi" not in z)
    out.append((rest, 0.0, upper, f"HHI < {upper:,.0f}"))
    return tuple(reversed(out))


def to_svg(chart, kind: str, label: str) -> str:
    """Render an Altair chart to an SVG string, offline, with hover titles on every data mark
    (Vega writes each mark's tooltip as its ``aria-label``; browsers show a ``<title>`` child)."""
    import vl_convert as vlc

    # the spec is built by this module only; vl-convert rejects an invalid one, so skip the slow schema check
    svg = vlc.vegalite_to_svg(chart.to_json(validate=False, indent=None))

    def titled(m: re.Match) -> str:
        whole = m.group(0)
        text = re.search(r'aria-label="([^"]*)"', whole).group(1)
        return whole[:-2] + f"><title>{text}</title></path>"

    svg = _MARK.sub(titled, svg)
    svg = _MARK2.sub(titled, svg)
    return svg.replace("<svg ", f'<svg data-chart="{kind}" role="img" aria-label="{E(label, quote=True)}" ', 1)


def _bands_layer(alt, bands, ymax: float, axis: str = "y"):
    frame = pd.DataFrame([{"zone": n, "lo": lo, "hi": min(hi, ymax), "rule": r} for n, lo, hi, r in bands if lo < ymax])
    scale = alt.Scale(domain=list(ZONE_COLOURS), range=list(ZONE_COLOURS.values()))
    lo, hi = ("y", "y2") if axis == "y" else ("x", "x2")
    rect = alt.Chart(frame).mark_rect(opacity=0.9).encode(
        **{lo: alt.Y("lo:Q") if axis == "y" else alt.X("lo:Q"), hi: "hi:Q"},
        color=alt.Color("zone:N", scale=scale, legend=None),
        tooltip=[alt.Tooltip("zone:N", title="zone (2023 Merger Guidelines)"), alt.Tooltip("rule:N", title="rule")])
    return frame, rect


def hhi_trend(frame: pd.DataFrame, name: str, market_id: str, run_date: dt.date, bands, width: int = 470,
              height: int = 190) -> str:
    """One market's HHI per period (points) with its upper bound (dashed), over the labelled zones.

    ``frame`` has one row per period: ``period``, ``period_end``, ``hhi``, ``hhi_upper``,
    ``attributed_pct``, and where known ``zone``, ``data_age_days``, ``fresh``."""
    import altair as alt

    keep = [c for c in ("period", "period_end", "hhi", "hhi_upper", "attributed_pct", "data_age_days", "fresh") if c in frame]
    f = frame[keep].sort_values("period_end").reset_index(drop=True)   # only what is drawn (Altair copies the data)
    f["period_end"] = pd.to_datetime(f["period_end"]).dt.strftime("%Y-%m-%d")
    ymax = float(min(10_000.0, max(2_200.0, 1.08 * float(f["hhi_upper"].fillna(f["hhi"]).max()))))
    bframe, rect = _bands_layer(alt, bands, ymax)
    labels = alt.Chart(bframe).mark_text(align="right", baseline="top", dx=-4, dy=3, fontSize=9, color="#555").encode(
        y="hi:Q", x=alt.value(width), text="zone:N")
    x = alt.X("period_end:T", title="period end", axis=alt.Axis(tickCount=6, labelFontSize=10, labelOverlap=True))
    y = alt.Y("hhi:Q", title="HHI (points)", scale=alt.Scale(domain=[0, ymax], nice=False),
              axis=alt.Axis(format=",.0f", labelFontSize=10))
    tip = [alt.Tooltip("period:N", title="period"), alt.Tooltip("hhi:Q", title="HHI", format=",.0f"),
           alt.Tooltip("hhi_upper:Q", title="upper bound", format=",.0f"),
           alt.Tooltip("attributed_pct:Q", title="attributed %", format=".1f")]
    upper = alt.Chart(f).mark_line(strokeDash=[4, 3], color="#666", strokeWidth=1).encode(
        x=x, y=alt.Y("hhi_upper:Q"))
    line = alt.Chart(f).mark_line(color="#1f3b73", strokeWidth=2).encode(x=x, y=y)
    pts = alt.Chart(f).mark_point(filled=True, size=36, color="#1f3b73").encode(x=x, y=y, tooltip=tip)
    chart = alt.layer(rect, labels, upper, line, pts).properties(
        width=width, height=height, title=alt.TitleParams(name if len(name) <= 72 else name[:71] + "…", subtitle=market_id, anchor="start", fontSize=12,
                                                          subtitleFontSize=10, subtitleColor="#777"),
    ).configure(font=FONT).configure_view(stroke="#ccc")
    last = f.iloc[-1]
    age = last.get("data_age_days")
    if age is None or pd.isna(age):   # the figure's age on the run date, from its period end
        age = (pd.Timestamp(run_date) - pd.Timestamp(last["period_end"])).days
    stale = "fresh" in f and pd.notna(last.get("fresh")) and not bool(last.get("fresh"))
    caption = (f"HHI per period, {f['period'].iloc[0]} to {last['period']} ({len(f)} periods); dashed: upper bound "
               f"with the unattributed remainder as one firm. Latest point {last['period']} (ends "
               f"{last['period_end']}){'' if pd.isna(age) else f', {int(age):,} days before {run_date}'}"
               f"{'; stale: a newer period was due' if stale else ''}.")
    return _figure(to_svg(chart, "trend", f"HHI trend {market_id}"), name, caption, "trend")


def hhi_dots(frame: pd.DataFrame, run_date: dt.date, bands, width: int = 880) -> str:
    """Series with a single period: one labelled dot per series at its HHI (points), over the zones.

    ``frame`` has one row per series: ``market_id``, ``name``, ``period``, ``period_end``,
    ``hhi``, ``attributed_pct`` and where known ``data_age_days``."""
    import altair as alt

    keep = [c for c in ("market_id", "name", "period", "hhi", "attributed_pct", "data_age_days") if c in frame]
    f = frame[keep].sort_values("hhi", ascending=False).reset_index(drop=True)
    f["label"] = [f"{n[:58]} ({p})" for n, p in zip(f["name"], f["period"])]
    f["value"] = f["hhi"].map(lambda v: f"{v:,.0f}")
    order = list(f["label"])
    bframe, rect = _bands_layer(alt, bands, 10_000.0, axis="x")
    bframe["short"] = bframe["zone"].map(SHORT).fillna(bframe["zone"])
    labels = alt.Chart(bframe).mark_text(align="left", baseline="bottom", dx=2, dy=-2, fontSize=9, color="#555").encode(
        x="lo:Q", y=alt.value(0), text="short:N")
    x = alt.X("hhi:Q", title="HHI (points)", scale=alt.Scale(domain=[0, 10_000]),
              axis=alt.Axis(format=",.0f", values=[0, 1000, 1800, 2500, 5000, 7500, 10000], labelFontSize=10))
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=380, labelFontSize=10))
    tip = [alt.Tooltip("name:N", title="series"), alt.Tooltip("market_id:N", title="market id"),
           alt.Tooltip("period:N", title="period"), alt.Tooltip("hhi:Q", title="HHI", format=",.0f"),
           alt.Tooltip("attributed_pct:Q", title="attributed %", format=".1f")]
    pts = alt.Chart(f).mark_point(filled=True, size=60, color="#1f3b73").encode(x=x, y=y, tooltip=tip)
    text = alt.Chart(f).mark_text(align="left", dx=7, fontSize=10, color="#1f3b73").encode(x=x, y=y, text="value:N")
    chart = alt.layer(rect, labels, pts, text).properties(
        width=width - 400, height=20 * len(f) + 10,
        title=alt.TitleParams("Series with one period so far", anchor="start", fontSize=12),
    ).configure(font=FONT).configure_view(stroke="#ccc")
    ages = f["data_age_days"].dropna() if "data_age_days" in f else pd.Series(dtype=float)
    caption = (f"HHI of each series that has a single period so far ({len(f)} series), highest first; "
               + (f"these points are {int(ages.min()):,} to {int(ages.max()):,} days old on {run_date}."
                  if len(ages) else f"their ages on {run_date} are not known."))
    return _figure(to_svg(chart, "dots", "HHI of single-period series"), "Series with one period so far", caption,
                   "dots")


def _figure(svg: str, title: str, caption: str, kind: str) -> str:
    return (f"<figure class='chart chart-{kind}' data-title='{E(title, quote=True)}'>{svg}"
            f"<figcaption>{E(caption)}</figcaption></figure>")
