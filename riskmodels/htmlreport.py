"""The analyst's report: one self-contained HTML file per run date (no network fetch at view
time: styles, charts and the one small script are inline; charts are SVG with hover titles).

Sections, ordered by the questions asked most: a summary (most concentrated markets, riskiest
relationship); what changed since the last run (new and resolved crossings, new stakes and
deals, moved scores, new or revised HHI) with the alerts firing; where concentration is highest
now (concepts with the analysts' consensus band, HHI charts from riskmodels.charts, every series
per layer); who is entangled with whom (a layered ownership, money and compute network); the
riskiest relationships with their explanation; lock-in, compute, SEC filings and data quality;
and a provenance appendix that every figure links to. Tables of more than five rows sort and
filter in the page. Empty inputs render "no data".
"""
from __future__ import annotations

import datetime as dt
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import storage, store
from .config import Settings, get_settings, load_yaml

LAYER_COLOURS = {"cloud": "#1f77b4", "accelerator": "#d62728", "model": "#2ca02c", "investor": "#7f7f7f"}
E = html.escape


def _q(sql: str, d, settings) -> pd.DataFrame:
    return store.read_sql(sql, {"d": d}, settings)


def _no_data(what: str) -> str:
    return f'<p class="nodata">No data: {E(what)}.</p>'


def _src_anchor(ref: str) -> str:
    return "src-" + ref.replace(".csv#", "-").replace(".", "-")


def _src_links(refs: str | None, limit: int = 6) -> str:
    if not isinstance(refs, str) or not refs:
        return ""
    items = [r for r in refs.split(";") if r][:limit]
    more = len([r for r in refs.split(";") if r]) - len(items)
    # file#row, or an accession alone for a row from a filing
    links = " ".join(f'<a href="#{_src_anchor(r)}">[{E(r.split("#", 1)[-1])}]</a>' for r in items)
    return links + (f" +{more}" if more > 0 else "")


# ------------------------------------------------------------------ charts
def hhi_charts(conc: pd.DataFrame, mnames: dict, run_date: dt.date, settings: Settings) -> str:
    """The HHI trends: a line chart (charts.hhi_trend) per series with two or more periods and
    one dot plot (charts.hhi_dots) for all series with a single period so far."""
    from . import charts

    if conc.empty:
        return _no_data("no HHI series")
    bands = charts.zone_bands(str(settings.home / "config" / "guidelines.yaml"))
    n = conc.groupby("market_id")["period"].transform("nunique")
    multi = conc[n > 1]
    out = [charts.hhi_trend(g, mnames.get(m, m), m, run_date, bands) for m, g in multi.groupby("market_id", sort=True)]
    single = conc[n == 1].assign(name=lambda f: f["market_id"].map(mnames).fillna(f["market_id"]))
    if len(single):
        out.append(charts.hhi_dots(single, run_date, bands))
    return "<div class='charts'>" + "".join(out) + "</div>"


# hand-written SVG, measured: Vega-Lite (Altair) has no graph layout, and the layered layout,
# crossing reduction and arrowheads that stop at a node's edge take ~60 lines here
def _layered_positions(g, order: list[str], width: int, top: int = 44, row: int = 21) -> tuple[dict, int]:
    """Columns by layer, each column ordered to reduce edge crossings (barycentre heuristic:
    four sweeps placing a node at the mean row of its neighbours); returns pixel positions and
    the height the tallest column needs at ``row`` px per node (so labels never overlap)."""
    cols: dict[int, list] = {}
    for n in sorted(g.nodes, key=lambda n: (-g.degree(n), str(n))):
        cols.setdefault(g.nodes[n]["layer"], []).append(n)
    und = g.to_undirected(as_view=True)
    for sweep in range(4):
        rank = {n: i / max(1, len(c) - 1) for c in cols.values() for i, n in enumerate(c)}
        for k in (sorted(cols) if sweep % 2 == 0 else sorted(cols, reverse=True)):
            bary = {n: (np.mean([rank[m] for m in und.neighbors(n) if m != n]) if any(m != n for m in und.neighbors(n))
                        else rank[n]) for n in cols[k]}
            cols[k].sort(key=lambda n: (bary[n], str(n)))
    height = top + 24 + row * max(len(c) for c in cols.values())
    step = (width - 240) / max(1, len(order) - 1)
    pos = {}
    for k, c in cols.items():
        off = top + (height - top - 24 - row * (len(c) - 1)) / 2   # centre each column vertically
        for i, n in enumerate(c):
            pos[n] = (40 + k * step, off + i * row)
    return pos, height


def network_chart(inv: pd.DataFrame, com: pd.DataFrame, entities: pd.DataFrame, loops: pd.DataFrame,
                  width: int = 1100, height: int = 560, links: pd.DataFrame | None = None) -> str:
    """Firms by layer (columns, ordered to reduce crossings), equity and commitment edges sized by
    dollars (USD bn), loops in red; with ``links`` (compute_links) the owner -> user compute edges
    in green, sized by H100e. Arrowheads are a fixed small size and stop at the target's edge."""
    import networkx as nx

    from .ownership import group_of

    group = group_of(entities)
    layers = entities.set_index("entity_id")["layers"].fillna("").str.split(";").str[0].to_dict()
    names = entities.set_index("entity_id")["name"].to_dict()
    g = nx.MultiDiGraph()
    for r in inv.itertuples():
        g.add_edge(group.get(r.investor_id, r.investor_id), group.get(r.investee_id, r.investee_id), kind="equity",
                   usd=r.amount_usd_bn if pd.notna(r.amount_usd_bn) else 0.0, basis=r.amount_basis)
    for r in com.itertuples():
        g.add_edge(group.get(r.buyer_id, r.buyer_id), group.get(r.supplier_id, r.supplier_id), kind="commitment",
                   usd=r.amount_usd_bn if pd.notna(r.amount_usd_bn) else 0.0, basis=r.amount_basis)
    for r in (links.itertuples() if links is not None else ()):
        if r.owner_id in names and r.user_id in names:  # registry firms only (the chart's nodes)
            g.add_edge(group.get(r.owner_id, r.owner_id), group.get(r.user_id, r.user_id), kind="compute",
                       usd=0.0, basis=None, h100e=r.h100e if pd.notna(r.h100e) else 0.0)
    if g.number_of_nodes() == 0:
        return _no_data("no investment or commitment known by this date")
    loop_edges = set()
    for path in loops.get("path", pd.Series(dtype=str)):
        nodes = path.split(">")
        loop_edges |= set(zip(nodes[:-1], nodes[1:]))
    order = ["investor", "model", "cloud", "accelerator"]
    for n in g.nodes:
        lay = layers.get(n, "investor")
        g.nodes[n]["layer"] = order.index(lay) if lay in order else 0
    pos, height = _layered_positions(g, order, width)
    radius = 5.0
    parts = [f'<svg data-chart="network" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="ownership and money network"><title>Ownership and money network</title><defs>'
             + "".join(f'<marker id="arrow-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" '
                       f'markerWidth="7" markerHeight="7" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="{c}"/>'
                       f'</marker>' for k, c in (("equity", "#2b6cb0"), ("commitment", "#b7791f"), ("loop", "#d62728"),
                                                 ("compute", "#2f855a")))
             + "</defs>"]

    col = {n: g.nodes[n]["layer"] for n in g.nodes}
    label_px = {n: 6.3 * min(31, len(str(names.get(n, n)))) for n in g.nodes}   # ~11 px sans-serif

    def segment(u, v) -> str:
        """SVG path data for u -> v: rightward edges leave past u's label and stop at v's circle,
        leftward ones leave u's circle and stop past v's label; within a column, a curve on the left.
        The arrowhead therefore never sits on a label or inside a node."""
        (x1, y1), (x2, y2) = pos[u], pos[v]
        if col[u] == col[v]:
            bend = 18 + 0.08 * abs(y2 - y1)
            return f"M {x1 - radius:.1f} {y1:.1f} Q {x1 - radius - bend:.1f} {(y1 + y2) / 2:.1f} {x2 - radius - 1.5:.1f} {y2:.1f}"
        if col[v] > col[u]:
            x1, x2 = x1 + 10 + label_px[u], x2 - radius - 1.5
        else:
            x1, x2 = x1 - radius, x2 + 10 + label_px[v]
        return f"M {x1:.1f} {y1:.1f} L {x2:.1f} {y2:.1f}"

    agg: dict[tuple, list] = {}
    for u, v, d in g.edges(data=True):
        if u != v:
            agg.setdefault((u, v, d["kind"]), []).append(d)
    for (u, v, kind), ds in agg.items():
        d_path = segment(u, v)
        if kind == "compute":
            h = sum(x["h100e"] for x in ds)
            parts.append(f'<path d="{d_path}" fill="none" stroke="#2f855a" '
                         f'stroke-width="{1 + 0.4 * math.log1p(h / 1000):.1f}" stroke-opacity="0.6" '
                         f'stroke-dasharray="2 3" marker-end="url(#arrow-compute)"><title>'
                         f'{E(names.get(u, u))} → {E(names.get(v, v))}: compute, {h:,.0f} H100e in {len(ds)} site(s) '
                         f'(Epoch AI)</title></path>')
            continue
        usd = sum(x["usd"] for x in ds)
        ceil = all(x["basis"] == "ceiling" for x in ds if x["usd"])
        w = 0.8 + 1.1 * math.log1p(usd)
        on_loop = (u, v) in loop_edges
        colour = "#d62728" if on_loop else ("#2b6cb0" if kind == "equity" else "#b7791f")
        dash = ' stroke-dasharray="6 4"' if ceil and usd else ""
        parts.append(f'<path d="{d_path}" fill="none" stroke="{colour}" '
                     f'stroke-width="{w:.1f}" stroke-opacity="0.5"{dash} marker-end="url(#arrow-'
                     f'{"loop" if on_loop else kind})"><title>{E(names.get(u, u))} → {E(names.get(v, v))}: '
                     f'{kind}, ${usd:,.1f}bn in {len(ds)} deal(s){" (ceilings only)" if ceil and usd else ""}'
                     f'{"; part of a money loop" if on_loop else ""}</title></path>')
    for n, (px, py) in pos.items():
        lay = layers.get(n, "investor")
        label = str(names.get(n, n))
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{radius:g}" fill="{LAYER_COLOURS.get(lay, "#777")}" '
                     f'stroke="#fff"><title>{E(label)} ({E(lay)}): {g.in_degree(n)} in, {g.out_degree(n)} out</title>'
                     f'</circle><text x="{px + 8:.1f}" y="{py + 4:.1f}" font-size="11" paint-order="stroke" '
                     f'stroke="#fff" stroke-width="3">{E(label[:30] + ("…" if len(label) > 30 else ""))}</text>')
    step = (width - 240) / max(1, len(order) - 1)
    for i, lay in enumerate(order):
        parts.append(f'<text x="{40 + i * step:.0f}" y="18" font-size="12" font-weight="bold" '
                     f'fill="{LAYER_COLOURS[lay]}">{lay}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap(shares: pd.DataFrame, names: dict) -> str:
    """Buyers x suppliers: each supplier's share of the buyer's committed compute."""
    if shares.empty:
        return _no_data("no compute commitment with a counted amount")
    m = shares.pivot_table(index="buyer_group", columns="supplier_group", values="share", aggfunc="sum").fillna(0.0)
    head = "".join(f"<th>{E(names.get(c, c))}</th>" for c in m.columns)
    rows = []
    for b, r in m.iterrows():
        cells = "".join(
            f'<td style="background: rgba(183,28,28,{v:.2f}); color: {"#fff" if v > 0.5 else "#000"}" '
            f'title="{E(names.get(b, b))} → {E(names.get(c, c))}: {100 * v:.0f}%">{100 * v:.0f}%</td>'
            if v > 0 else "<td></td>" for c, v in r.items())
        rows.append(f"<tr><th>{E(names.get(b, b))}</th>{cells}</tr>")
    return f'<table data-chart="heatmap" class="heat"><tr><th>buyer \\ supplier</th>{head}</tr>{"".join(rows)}</table>'


def component_bars(components: str) -> str:
    comp = json.loads(components)
    out = []
    for name, d in sorted(comp.items(), key=lambda kv: -kv[1]["contribution"]):
        v = d["value"]
        width = 0 if v is None else 160 * v
        out.append(f'<div class="bar"><span class="lbl">{E(name.replace("_", " "))}</span>'
                   f'<svg width="170" height="12"><rect width="160" height="12" fill="#eee"/><rect width="{width:.0f}" '
                   f'height="12" fill="#8e44ad"><title>{E(name)}: {"n/a" if v is None else f"{v:.2f}"} — '
                   f'{E(d["facts"])}</title></rect></svg><span class="val">{"n/a" if v is None else f"{v:.2f}"}</span>'
                   f'<span class="facts">{E(d["facts"])}</span></div>')
    return "".join(out)


# ------------------------------------------------------------------ the page
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;padding:0 16px;color:#222;
max-width:1180px;line-height:1.4}
h1{margin-bottom:0} h2{border-bottom:2px solid #1f3b73;padding-bottom:4px;margin-top:36px} h3{margin-top:24px}
table{border-collapse:collapse;font-size:13px;margin:8px 0;max-width:100%} td,th{border:1px solid #ddd;padding:3px 6px;
text-align:left;vertical-align:top}
td a,td small,td code{overflow-wrap:anywhere} th{background:#f4f6fa} .nodata{color:#a00;font-style:italic}
.summary{background:#f4f6fa;padding:12px;border-left:4px solid #1f3b73}
.charts{display:flex;flex-wrap:wrap;gap:12px} figure.chart{margin:0;padding:6px;border:1px solid #e4e7ee;max-width:100%}
figure.chart svg{max-width:100%;height:auto} figure.chart-dots{flex-basis:100%}
figcaption{font-size:12px;color:#555;max-width:540px} figure.chart-dots figcaption{max-width:none}
.bar{display:flex;align-items:center;gap:6px;font-size:12px}
.bar .lbl{width:170px} .bar .val{width:36px} .bar .facts{color:#555} .risk{margin:14px 0;padding:8px;border:1px solid #ddd}
.heat td{text-align:center;min-width:52px} .firing{color:#b00020;font-weight:bold} small{color:#666}
.age{display:inline-block;font-size:11px;padding:0 5px;border-radius:8px;background:#e6f4ea;color:#1e6b34;white-space:nowrap}
.age.old{background:#eee;color:#777} tr.stale td{color:#888;background:#fafafa}
nav.toc{font-size:13px;margin:10px 0 0} nav.toc a{margin-right:12px;white-space:nowrap}
.netwrap{overflow-x:auto} .legend span{display:inline-block;margin-right:14px;font-size:12px}
.tools{font-size:12px;margin:10px 0 2px;color:#555} .tools input{font-size:12px;padding:2px 6px;width:240px}
th.sortable{cursor:pointer} th.sortable:after{content:" \\2195";color:#aaa} th[aria-sort=ascending]:after{content:" \\2191"}
th[aria-sort=descending]:after{content:" \\2193"} .up{color:#b00020} .down{color:#1e6b34}
@media print{body{max-width:none;margin:0;font-size:11px} .tools,nav.toc{display:none} h2{break-before:auto}
figure.chart,.risk,tr{break-inside:avoid} a{color:inherit;text-decoration:none} .netwrap{overflow:visible}
.netwrap svg{width:100%;height:auto}}
"""
ORDER = ["summary", "changes", "concepts", "trends", "concentration", "network", "risk", "lockin", "compute", "filings",
         "quality", "provenance"]
NAV = ("<nav class='toc'>" + "".join(f"<a href='#{a}'>{t}</a>" for a, t in (
    ("changes", "What changed"), ("concepts", "Where concentration is highest"), ("network", "Who is entangled"),
    ("risk", "Riskiest relationships"), ("lockin", "Lock-in"), ("compute", "Compute"), ("filings", "SEC filings"),
    ("quality", "Data quality"), ("provenance", "Provenance"))) + "</nav>")
# Sort and filter every table of more than five rows, in the page (no library, no network): a filter box
# above it ("showing k of n rows") and click-to-sort headers (numbers by value, text alphabetically).
TABLES = """(function(){function num(t){var m=t.replace(/[,$]/g,'').replace('\u2212','-').match(/^[+-]?\\d+(\\.\\d+)?/);
return m?parseFloat(m[0]):null;}
document.querySelectorAll('table:not(.heat)').forEach(function(tb,ti){var rows=Array.prototype.slice.call(tb.rows);
if(rows.length<7||!rows[0].querySelector('th'))return;var head=rows.shift();var body=rows[0].parentNode;
var bar=document.createElement('div');bar.className='tools';var inp=document.createElement('input');inp.type='search';
inp.placeholder='Filter these '+rows.length+' rows';inp.setAttribute('aria-label','filter table');
inp.setAttribute('data-filter-for',ti);var cnt=document.createElement('span');cnt.className='count';
cnt.textContent=' showing '+rows.length+' of '+rows.length+' rows';bar.appendChild(inp);bar.appendChild(cnt);
tb.parentNode.insertBefore(bar,tb);tb.setAttribute('data-table',ti);
inp.addEventListener('input',function(){var q=inp.value.toLowerCase(),k=0;rows.forEach(function(r){
var on=r.textContent.toLowerCase().indexOf(q)>=0;r.style.display=on?'':'none';if(on)k++;});
cnt.textContent=' showing '+k+' of '+rows.length+' rows';});
Array.prototype.forEach.call(head.cells,function(th,ci){th.className+=' sortable';th.title='sort';
th.addEventListener('click',function(){var asc=th.getAttribute('aria-sort')!=='ascending';
Array.prototype.forEach.call(head.cells,function(o){o.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');var keyed=rows.map(function(r,i){var c=r.cells[ci];
var t=c?c.textContent.trim():'';return {r:r,i:i,n:num(t),t:t.toLowerCase()};});keyed.sort(function(a,b){
var x=(a.n!==null&&b.n!==null)?a.n-b.n:(a.t<b.t?-1:a.t>b.t?1:0);return (asc?x:-x)||a.i-b.i;});
keyed.forEach(function(k){body.appendChild(k.r);});rows=keyed.map(function(k){return k.r;});});});});})();"""



def age_badge(days, fresh, stale_after=None) -> str:
    """A small badge with a figure's age in days (green while fresh, grey once stale)."""
    if days is None or (isinstance(days, float) and pd.isna(days)) or days is pd.NA:
        return ""
    fresh = bool(fresh) if fresh is not None and not (isinstance(fresh, float) and pd.isna(fresh)) else True
    tip = f"fresh until {stale_after}" if fresh else f"stale since {stale_after}: a newer period was due"
    return (f"<span class='age{'' if fresh else ' old'}' title='{E(tip, quote=True)}'>{int(days):,} d"
            f"{'' if fresh else ' · stale'}</span>")

PROBE = """document.querySelectorAll('[data-chart]').forEach(function(el){var r=el.getBoundingClientRect();
el.setAttribute('data-rect',[Math.round(r.left+window.scrollX),Math.round(r.top+window.scrollY),Math.round(r.width),
Math.round(r.height)].join(','));});document.body.setAttribute('data-height',document.documentElement.scrollHeight);"""


def _cell(v, fmt: str = "{}") -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    return E(fmt.format(v))


def _suite_expectations(suite: str, settings: Settings) -> list[tuple[str, str, str]]:
    """(expectation, column, severity) of a suite (expectations/<suite>.json), in its order."""
    path = settings.home / "expectations" / f"{suite}.json"
    if not path.exists():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [(e["type"], str((e.get("kwargs") or {}).get("column") or (e.get("kwargs") or {}).get("column_list") or ""),
             e.get("severity") or (e.get("meta") or {}).get("severity") or "critical") for e in doc.get("expectations", [])]


def quality_section(d, settings: Settings) -> str:
    """Data quality of the run date, readable offline: per landed dataset its suite, rows, how it
    was checked, the outcome, every failing expectation with examples (row, column, value), and
    the suite's expectations (Great Expectations 1.x suites in expectations/)."""
    runs = _q("SELECT r.dataset, r.status, r.location, v.suite, v.success, v.evaluated, v.failed_critical, "
              "v.failed_warning, v.rows, v.details, v.mode, v.validated_at FROM raw_inputs r LEFT JOIN "
              "validation_results v ON v.sha256 = r.sha256 WHERE r.run_date = :d ORDER BY r.dataset", d, settings)
    if runs.empty:
        return "<h2 id='quality'>Data quality</h2>" + _no_data("no dataset landed for this run date")
    rows, blocks = [], []
    for r in runs.drop_duplicates("dataset", keep="last").itertuples():
        failures = json.loads(r.details) if isinstance(r.details, str) and r.details else []
        ok = bool(r.success) if not pd.isna(r.success) else None
        outcome = "passed" if ok else ("failed: quarantined" if ok is False else "not validated")
        rows.append(f"<tr><td>{E(r.dataset)}</td><td>{E(str(r.location))}</td><td>{_cell(r.rows, '{:,.0f}')}</td>"
                    f"<td>{E(str(r.mode or ''))}</td><td>{_cell(r.evaluated, '{:.0f}')}</td>"
                    f"<td class='{'ok' if ok else 'firing'}'>{E(outcome)}</td><td>{_cell(r.failed_critical, '{:.0f}')}"
                    f"</td><td>{_cell(r.failed_warning, '{:.0f}')}</td></tr>")
        fail_rows = []
        for f in failures:
            ex = "; ".join(f"row {x.get('row')}: {json.dumps(x.get('values'), default=str)[:160]}"
                           for x in (f.get("examples") or [])[:3])
            fail_rows.append(f"<tr><td class='firing'>{E(str(f.get('severity')))}</td><td>{E(str(f.get('expectation')))}"
                             f"</td><td>{E(str(f.get('column') or ''))}</td><td>{_cell(f.get('unexpected_count'))}</td>"
                             f"<td><small>{E(ex or str(f.get('message') or ''))}</small></td></tr>")
        listed = "".join(f"<li>{E(t)} <small>{E(c)} ({E(sev)})</small></li>"
                         for t, c, sev in _suite_expectations(str(r.suite or r.dataset), settings))
        blocks.append(f"<details><summary>{E(r.dataset)}: {E(outcome)}, {_cell(r.evaluated, '{:.0f}')} expectations"
                      "</summary>" + (f"<table><tr><th>severity</th><th>expectation</th><th>column</th><th>unexpected"
                                      f"</th><th>examples</th></tr>{''.join(fail_rows)}</table>" if fail_rows else "")
                      + f"<ol>{listed}</ol></details>")
    return ("<h2 id='quality'>Data quality</h2><p><small>Each landed input of the run date checked by its Great "
            "Expectations suite (and, above the GX row limit, the same checks in pandas on every row); a critical "
            "failure quarantines the dataset and nothing is published from it.</small></p>"
            "<table data-table='quality'><tr><th>dataset</th><th>source</th><th>rows</th><th>checked by</th>"
            "<th>expectations</th><th>outcome</th><th>critical failures</th><th>warnings</th></tr>"
            + "".join(rows) + "</table>" + "".join(blocks))


def sec_section(d, names: dict, settings: Settings) -> str:
    """What SEC EDGAR filings brought: processed filings, 13D/13G stakes, 13F holders in the
    run, segment-revenue markets and the MHHI delta from common ownership vs strategic stakes."""
    from .report import sec_tables

    t = sec_tables(d, settings)
    html = ["<h2 id='filings'>From SEC filings</h2><p><small>Primary regulatory filings (confidence "
            "<i>filed</i>), point in time by acceptance date. Segment-revenue shares are of the reporting firms' "
            "summed revenue, not of the whole market. Percent of class is the filing group's, never a sum of "
            "joint filers.</small></p>"]
    f = t["filings"]
    html.append("<h3>Filings processed</h3>" + ("<table><tr><th>form</th><th>status</th><th>filings</th><th>filed</th>"
                "</tr>" + "".join(f"<tr><td>{E(r.form)}</td><td>{E(r.status)}</td><td>{r.filings}</td>"
                                  f"<td>{_cell(r.first_filed)} – {_cell(r.last_filed)}</td></tr>" for r in f.itertuples())
                + "</table>" if len(f) else _no_data("no SEC filing processed yet (run the sec_filings DAG)")))
    if len(t["quarantined"]):
        html.append("<h3>Quarantined filings</h3><table><tr><th>accession</th><th>form</th><th>reason</th></tr>"
                    + "".join(f"<tr><td class='firing'>{E(r.accession)}</td><td>{E(r.form)}</td><td><small>"
                              f"{E(str(r.reason))}</small></td></tr>" for r in t["quarantined"].itertuples()) + "</table>")
    s = t["stakes"]
    html.append("<h3>SCHEDULE 13D / 13G stakes</h3>" + ("<table><tr><th>issuer</th><th>reporting person</th>"
                "<th>% of class</th><th>group %</th><th>exit</th><th>event</th><th>filed</th><th>filing</th></tr>"
                + "".join(f"<tr><td>{E(str(r.issuer_name))} <small>{_cell(r.issuer_cusip)}</small></td>"
                          f"<td>{E(str(r.reporting_person))}</td><td>{_cell(r.percent_of_class, '{:g}')}</td>"
                          f"<td>{_cell(r.group_percent_of_class, '{:g}')}</td><td>{'exit' if r.is_exit else ''}</td>"
                          f"<td>{_cell(r.event_date)}</td><td>{_cell(r.filed) or '<small>not known (recorded sample)</small>'}"
                          f"</td><td><small>{E(r.accession)} {E(r.form)}</small></td></tr>" for r in s.itertuples())
                + "</table>" if len(s) else _no_data("no 13D/13G stake filed")))
    h = t["holders"]
    html.append("<h3>13F holders of the registry's issuers (in this run's ownership)</h3>" + (
        "<table><tr><th>holder</th><th>issuer</th><th>% of shares outstanding</th><th>quarter end</th><th>status</th>"
        "<th>13F accession</th></tr>" + "".join(
            f"<tr><td>{E(r.holder_name if isinstance(r.holder_name, str) else names.get(r.holder_id, r.holder_id))} "
            f"<small>{E(r.holder_id)}</small></td><td>{E(names.get(r.firm_id, r.firm_id))}</td>"
            f"<td>{_cell(r.pct_shares_outstanding, '{:.6f}')}</td><td>{_cell(r.as_of)}</td><td>{E(r.status)}</td>"
            f"<td>{E(r.accession)}</td></tr>" for r in h.itertuples()) + "</table>"
        if len(h) else _no_data("no 13F holder of a registry issuer known by this date")))
    g = t["segments"]
    html.append("<h3>Segment-revenue markets</h3>" + ("<table><tr><th>market</th><th>period</th><th>firm</th>"
                "<th>share of reporting firms (%)</th><th>filing</th><th>filed</th></tr>" + "".join(
                    f"<tr><td>{E(r.market_id)}</td><td>{E(r.period)}</td><td>{E(names.get(r.entity_id, r.entity_id))}</td>"
                    f"<td>{_cell(r.share_pct, '{:.1f}')}</td><td id='{_src_anchor(str(r.accession))}-seg'>{E(r.accession)} "
                    f"{E(str(r.form))}</td><td>{_cell(r.filed)}</td></tr>" for r in g.itertuples()) + "</table>"
                if len(g) else _no_data("no segment revenue filed by two or more reporting firms for one period")))
    m = t["mhhi_split"]
    html.append("<h3>MHHI delta: common ownership vs strategic stakes</h3><p><small>Rights regime, latest period of "
                "each market, points. Common: institutional holders alone (index complexes, 13F filers); strategic: "
                "stake_rights and 13D/13G stakes alone; the total also holds their interaction.</small></p>" + (
                    "<table><tr><th>market</th><th>period</th><th>HHI</th><th>MHHI</th><th>ΔMHHI</th><th>common</th>"
                    "<th>strategic</th></tr>" + "".join(
                        f"<tr><td>{E(r.market_id)}</td><td>{E(r.period)}</td><td>{r.hhi:,.0f}</td><td>{r.mhhi:,.0f}</td>"
                        f"<td>{r.delta_mhhi:,.1f}</td><td>{_cell(r.delta_mhhi_common, '{:,.1f}')}</td>"
                        f"<td>{_cell(r.delta_mhhi_strategic, '{:,.1f}')}</td></tr>" for r in m.head(15).itertuples())
                    + "</table>" if len(m) else _no_data("no ownership-adjusted market")))
    return "".join(html)


def compute_section(d, names: dict, settings: Settings) -> str:
    """Who owns the installed AI compute and on whose chips (Epoch AI, CC BY 4.0): the compute
    markets' latest HHI, the owner series over time, vendor shares of installed H100e beside the
    analysts' shipment/revenue shares, owner -> user dependencies, and the credit."""
    from .report import compute_tables

    from .pipeline import market_names

    t = compute_tables(d, settings)
    rel = t["release"]
    mn = market_names(store.read_sql("SELECT * FROM markets", settings=settings))
    credit = "<p class='credit'><small>Data (licence CC BY 4.0): " + ("; ".join(
        f"{E(c['citation'])}, release of {E(str(c['as_of']))} ({int(c['rows'])} rows, sha256 {E(str(c['sha256'])[:12])}, "
        f"<a href='{E(str(c['url']), quote=True)}' rel='noreferrer'>{E(str(c['url']))}</a>)" for c in t["credits"])
        or E(t["citation"])) + ".</small></p>"
    html = ["<h2 id='compute'>Compute</h2><p><small>Installed AI compute in H100-equivalents (H100e, Epoch's estimates "
            "from public reports; confidence <i>medium</i>). Counted: status Existing (Decommissioned until its date), not "
            "a possible duplicate, not excluded, from the first operational date; a cluster's H100e split equally among "
            "its owners; clusters without a named owner or with an anonymised chip supplier are the unattributed "
            "remainder, which the interval's upper bound takes as one firm.</small></p>", credit]
    if rel is None:
        html.append(_no_data("no Epoch release published by this date (run the epoch_compute DAG)"))
    for r in t["quarantined"].head(5).itertuples():
        html.append(f"<p class='firing'>Quarantined Epoch release {E(str(r.sha256)[:12])} ({E(str(r.dataset))}, run "
                    f"{E(str(r.run_date))}): {E(str(r.reason))}; the previous release stays scored.</p>")
    m = t["markets"]
    if len(m):
        html.append("<h3>Compute markets (latest period)</h3><p><small>Uncertainty band: the lowest and highest HHI "
                    "over three choices (every counted cluster; Confirmed clusters only; without Unlikely ones), each "
                    "with the anonymised owners' compute spread over many small owners or taken as one firm. Epoch's "
                    "H100e are estimates; the band shows how much the choices move the HHI, not a statistical "
                    "interval.</small></p><table><tr><th>market</th><th>period</th><th>HHI</th>"
                    "<th>interval</th><th>band</th><th>Confirmed only</th><th>attributed</th><th>top (CR1)</th><th>CR4</th>"
                    "<th>zone (2023 MG)</th></tr>" + "".join(
                        f"<tr><td>{E(mn.get(r.market_id, r.market_id))} <small>{E(r.market_id)}</small></td>"
                        f"<td>{E(r.period)}</td><td>{r.hhi:,.0f}</td><td>{r.hhi_lower:,.0f}–{r.hhi_upper:,.0f}</td><td>"
                        + ("" if pd.isna(r.band_low) else f"{r.band_low:,.0f}–{r.band_high:,.0f}")
                        + f"</td><td>{_cell(r.hhi_confirmed_only, '{:,.0f}')}</td><td>{r.attributed_pct:.1f}%</td>"
                        f"<td>{E(str(r.top_name if isinstance(r.top_name, str) else r.top_entity_id))} {r.cr1:.1f}%</td>"
                        f"<td>{r.cr4:.1f}%</td><td>{E(r.zone or '')}</td></tr>" for r in m.itertuples())
                    + "".join(f"<tr><td>{E(r.market_id)}</td><td colspan='9'><small>{E(r.why)}: owner concentration "
                              "unknown</small></td></tr>" for r in t["missing"].itertuples()) + "</table>")
    h = t["history"]
    if len(h):
        from . import charts

        bands = charts.zone_bands(str(settings.home / "config" / "guidelines.yaml"))
        html.append("<h3>Owner concentration over time</h3>" + charts.hhi_trend(
            h, mn.get("compute.epoch.h100e-owner.ww", "Installed AI compute by owner"), "compute.epoch.h100e-owner.ww",
            d, bands, width=760))
    v = t["vendor_vs_analysts"]
    if len(v):
        rows = []
        for ent, g in v.groupby("entity_id", sort=False):
            series = "; ".join(f"{E(x.market_id)} {E(x.period)}: {x.share_pct:g}%" for x in g.dropna(subset=["market_id"])
                               .itertuples()) or "<small>no analyst series names this vendor</small>"
            rows.append(f"<tr><td>{E(names.get(ent, ent))}</td><td>{g.installed_h100e_pct.iloc[0]:.2f}% "
                        f"<small>({E(g.epoch_period.iloc[0])})</small></td><td><small>{series}</small></td></tr>")
        html.append("<h3>Chip vendors: share of installed H100e beside the analysts' series</h3><p><small>Installed "
                    "compute (stock, Epoch) and shipment or revenue shares (flow, each analyst's own denominator) "
                    "measure different things; they are shown side by side, never averaged.</small></p><table><tr>"
                    "<th>vendor</th><th>installed H100e</th><th>analyst series (latest period)</th></tr>"
                    + "".join(rows) + "</table>")
    g = t["chip_owner_gap"]
    if len(g):
        tot = g["total_h100e"].dropna()
        html.append("<h3>Chip-owner estimates against the cluster-derived figure</h3><p><small>Epoch's \"AI Chip "
                    "Owners\" estimates as reported (all chips a firm owns, shares of the reported rows' sum) beside the "
                    "shares of installed H100e in the GPU-clusters dataset (the large clusters Epoch has documented"
                    + (f", {tot.iloc[0]:,.0f} H100e in all" if len(tot) else "") + "). The gap is in percentage "
                    "points; a large one means most of an owner's chips sit outside the documented clusters.</small></p>"
                    "<table><tr><th>owner</th><th>chip owners (as reported)</th><th>cluster-derived</th><th>gap</th>"
                    "</tr>" + "".join(
                        f"<tr><td>{E(names.get(r.entity_id, r.entity_id))}</td><td>{r.chip_owner_pct:.1f}% <small>"
                        f"({E(r.chip_owner_period)})</small></td><td>{_cell(r.cluster_pct, '{:.1f}%')} <small>"
                        f"{E(str(r.cluster_period)) if isinstance(r.cluster_period, str) else 'no cluster'}</small></td>"
                        f"<td>{r.gap_points:+.1f} pts</td></tr>" for r in g.itertuples()) + "</table>")
    f = t["frontier"]
    if len(f):
        rows = []
        for period, g in f.groupby("period"):
            cells = {m: r for m, r in zip(g["market_id"], g.itertuples())}
            out = [f"<td>{E(period)}</td>"]
            for m in ("compute.epoch.frontier-training-hardware.ww", "compute.epoch.frontier-training-cloud.ww"):
                r = cells.get(m)
                out.append("<td></td>" if r is None else
                           f"<td>{E(str(r.top_name if isinstance(r.top_name, str) else r.top_entity_id))} {r.cr1:.0f}% "
                           f"<small>(HHI {r.hhi:,.0f}; named for {r.attributed_pct:.0f}% of the FLOP)</small></td>")
            rows.append("<tr>" + "".join(out) + "</tr>")
        html.append("<h3>Who trained the frontier models</h3><p><small>Share of each year's frontier training compute "
                    "(FLOP) by hardware maker and by training cloud (Epoch AI, 'Data on AI Models'). Epoch names the "
                    "training cloud for few models, so most of that column's compute is unattributed.</small></p>"
                    "<table><tr><th>year</th><th>largest hardware maker</th><th>largest training cloud</th></tr>"
                    + "".join(rows) + "</table>")
    dep = t["dependencies"]
    html.append("<h3>Owner → user compute dependencies</h3><p><small>Epoch's frontier AI data centers and counted GPU "
                "clusters whose users include a registry firm other than the owner; figures split equally over a "
                "site's owner × user pairs; the tag is Epoch's confidence in the user (an untagged cluster user is "
                "as listed). Lock-in counts links tagged at least <i>likely</i>, on the H100e basis only where a "
                "buyer has no dollar or GW figure.</small></p>" + (
        "<table><tr><th>owner</th><th>user</th><th>site</th><th>H100e</th><th>MW</th><th>capital cost (2025 USD bn)</th>"
        "<th>confidence</th></tr>" + "".join(
            f"<tr><td>{E(names.get(r.owner_id, r.owner_id))}</td><td>{E(names.get(r.user_id, r.user_id))}</td>"
            f"<td>{E(str(r.site))} <small>({E(r.origin.replace('_', ' '))})</small></td><td>{_cell(r.h100e, '{:,.0f}')}</td>"
            f"<td>{_cell(r.power_mw, '{:,.0f}')}</td><td>{_cell(r.capital_cost_usd_bn, '{:,.1f}')}</td>"
            f"<td>{E(str(r.confidence)) if isinstance(r.confidence, str) else ''}</td></tr>"
            for r in dep.head(20).itertuples()) + "</table>"
        if len(dep) else _no_data("no data center or cluster lists a registry firm other than its owner as a user")))
    return "".join(html)


def dominance_table(d, names: dict, mnames: dict, settings: Settings) -> str:
    """Firms at or above the dominance share in a series' latest period (the ``screens`` table's
    durable_dominance rows): durably dominant first, then by quarters at the share."""
    t = _q("SELECT entity_id, market_id, period, value, threshold, verdict, verified, source FROM screens "
           "WHERE run_date = :d AND screen = 'durable_dominance'", d, settings)
    head = ("<h3 id='dominance'>Durable dominance</h3><p><small>Firms with a share of 30% or more in the latest "
            "period of a series, and for how many consecutive quarters (2023 Merger Guidelines, Guideline 6; durable "
            "from 8 quarters of a fresh series; forecasts are not shares held). Rules: "
            "<code>config/screens.yaml</code>.</small></p>")
    if t.empty:
        return head + _no_data("no firm holds 30% or more in the latest period of any series")
    t = t.assign(durable=t["verdict"].str.startswith("durably"), stale=t["verdict"].str.startswith("not assessed"))
    t = t.sort_values(["durable", "stale", "value"], ascending=[False, True, False])
    rows = "".join(
        f"<tr><td>{E(names.get(r.entity_id, r.entity_id))}</td><td>{E(mnames.get(r.market_id, r.market_id))} "
        f"<small><code>{E(r.market_id)}</code></small></td><td>{E(str(r.period))}</td><td>{r.value:g}</td>"
        f"<td class='{'firing' if r.durable else ''}'>{E(r.verdict)}{'' if r.verified == 'primary' else ' <small>· unverified</small>'}"
        "</td></tr>" for r in t.itertuples())
    c = _q("SELECT entity_id, market_id, period, value, verdict, verified FROM screens "
           "WHERE run_date = :d AND screen = 'durable_dominance_concept' ORDER BY value DESC, market_id", d, settings)
    concept = ""
    if len(c):
        crow = "".join(
            f"<tr><td>{E(names.get(r.entity_id, r.entity_id))}</td><td><code>{E(r.market_id)}</code></td>"
            f"<td>{E(str(r.period))}</td><td>{r.value:g}</td><td class='{'firing' if r.verdict.startswith('durably') else ''}'>"
            f"{E(r.verdict)}{'' if r.verified == 'primary' else ' <small>· unverified</small>'}</td></tr>"
            for r in c.itertuples())
        concept = ("<p><small>The same test on each concept's consensus: the median share across the concept's "
                   "series in each year (<code>concept_firm_shares</code>).</small></p><table class='data' id='dominance-concepts'>"
                   "<tr><th>firm</th><th>concept</th><th>latest year</th><th>quarters at 30%+</th><th>verdict</th></tr>"
                   f"{crow}</table>")
    return (head + "<table class='data'><tr><th>firm</th><th>series</th><th>latest period</th><th>quarters at 30%+</th>"
            f"<th>verdict</th></tr>{rows}</table>" + concept)


def changes_section(d, names: dict, subject, market, settings: Settings) -> str:
    """What changed since the previous run (report.changes_tables): new and resolved crossings,
    stakes and deals new to the store, relationships whose antitrust score moved (points 0-100),
    and market-periods that are new or have another HHI (points)."""
    from .report import changes_tables

    t = changes_tables(d, settings)
    p = t["previous"]
    out = ["<h2 id='changes'>What changed since the last run</h2>"]
    if p is None:
        out.append("<p>This is the first run in the store: there is nothing to compare with yet.</p>")
        return "".join(out)
    c, deals, sc, hh = t["crossings"], t["deals"], t["scores"], t["hhi"]
    new, gone = int((c["change"] == "new").sum()), int((c["change"] == "resolved").sum())
    out.append(f"<p>Against the run of {E(str(p))}: <b>{new}</b> new crossing(s), <b>{gone}</b> resolved; "
               f"<b>{len(deals)}</b> new stake(s) or deal(s); <b>{len(sc)}</b> relationship score(s) moved; "
               f"<b>{len(hh)}</b> market-period(s) new or with another HHI.</p>")
    if len(c):
        out.append("<h3>New and resolved crossings</h3><table class='data'><tr><th>change</th><th>rule</th><th>subject</th>"
                   "<th>value</th><th>threshold</th></tr>" + "".join(
                       f"<tr><td class='{'firing' if r.change == 'new' else 'down'}'>{E(r.change)}</td><td>{E(r.rule_id)}"
                       f"</td><td>{subject(r.subject_id)}</td><td>{_cell(r.value, '{:,.1f}')}</td><td>{r.threshold:g}</td>"
                       "</tr>" for r in c.itertuples()) + "</table>")
    if len(deals):
        out.append("<h3>New stakes and deals</h3><table class='data'><tr><th>kind</th><th>date</th><th>from</th><th>to</th>"
                   "<th>USD bn</th><th>source</th></tr>" + "".join(
                       f"<tr><td>{E(r.kind)}</td><td>{E(str(r.date))}</td><td>{E(names.get(r.from_id, r.from_id))}</td>"
                       f"<td>{E(names.get(r.to_id, r.to_id))}</td><td>"
                       + ("" if pd.isna(r.amount_usd_bn) else f"{r.amount_usd_bn:g} ({E(str(r.amount_basis))})")
                       + f"</td><td><small>{E(str(r.source))}</small> <a href='#"
                       f"{_src_anchor(('investments.csv' if r.kind.startswith('stake') else 'compute_commitments.csv') + '#' + str(r.ref_row))}'>"
                       f"[{r.ref_row}]</a></td></tr>" for r in deals.itertuples()) + "</table>")
    if len(sc):
        out.append("<h3>Moved antitrust scores</h3><table class='data'><tr><th>relationship</th><th>before</th><th>now</th>"
                   "<th>change</th><th>unusual move</th></tr>" + "".join(
                       f"<tr><td>{E(names.get(r.investor_id, r.investor_id))} → {E(names.get(r.investee_id, r.investee_id))}"
                       f"</td><td>{r.previous_score:.0f}</td><td>{r.score:.0f}</td><td class='{'up' if r.score_change > 0 else 'down'}'>"
                       f"{r.score_change:+.1f}</td><td>{'yes' if bool(r.movement_flag) else ''}</td></tr>"
                       for r in sc.head(25).itertuples()) + "</table>")
    if len(hh):
        out.append("<h3>New or revised HHI</h3><table class='data'><tr><th>market</th><th>period</th><th>before</th>"
                   "<th>now</th><th>change</th><th>zone</th></tr>" + "".join(
                       f"<tr><td>{market(r.market_id)}</td><td>{E(r.period)}</td><td>{_cell(r.previous_hhi, '{:,.0f}') or 'new'}"
                       f"</td><td>{r.hhi:,.0f}</td><td>{_cell(r.hhi_change, '{:+,.0f}')}</td><td>"
                       + (E(str(r.zone)) if r.previous_zone in (None, r.zone) or pd.isna(r.previous_zone)
                          else f"{E(str(r.previous_zone))} → <b>{E(str(r.zone))}</b>") + "</td></tr>"
                       for r in hh.itertuples()) + "</table>")
    return "".join(out)


def build_report(run_date: dt.date | None = None, out_dir: Path | None = None, settings: Settings | None = None):
    """Write ``report-<date>.html`` for ``run_date`` (default: the latest published run) to
    ``reports/`` in the storage root (or to the local ``out_dir``) and return its path (a local
    ``Path`` on a local root). Units: HHI and MHHI in points, shares in percent, money in USD bn."""
    settings = settings or get_settings()
    if run_date is None:
        latest = store.read_sql("SELECT MAX(run_date) AS d FROM concentration", settings=settings)["d"].iloc[0]
        run_date = dt.date.fromisoformat(str(latest)) if latest is not None and pd.notna(latest) else dt.date.today()
    d = run_date
    entities = store.read_sql("SELECT * FROM entities", settings=settings)
    names = entities.set_index("entity_id")["name"].to_dict() if len(entities) else {}
    from .pipeline import market_names

    mnames = market_names(store.read_sql("SELECT * FROM markets", settings=settings))

    def market(mid: str) -> str:
        """A market as a person reads it: its name, the id small beside it (the link target)."""
        return f"{E(mnames.get(mid, mid))} <small>{E(mid)}</small>" if mid in mnames else E(mid)
    conc = _q("SELECT c.*, v.hhi_change, v.previous_period FROM concentration c LEFT JOIN v_concentration_change v "
              "ON v.run_date = c.run_date AND v.market_id = c.market_id AND v.period = c.period WHERE c.run_date = :d",
              d, settings)
    own = _q("SELECT market_id, period, regime, mhhi FROM ownership_concentration WHERE run_date = :d", d, settings)
    risk = _q("SELECT * FROM antitrust_scores WHERE run_date = :d AND subject_type = 'relationship' ORDER BY score DESC",
              d, settings)
    sections: dict[str, str] = {}

    # alerts
    firing = _q("SELECT s.rule_id, s.subject_id, s.value, s.threshold FROM alert_state s WHERE s.run_date = :d AND "
                "s.status = 'FIRING' ORDER BY s.rule_id, s.value DESC", d, settings)
    outbox = _q("SELECT status, n_firing, n_resolved FROM alert_outbox WHERE run_date = :d", d, settings)
    digest = (f"<p>Digest for {E(str(d))}: {E(outbox.status.iloc[0])}, {int(outbox.n_firing.iloc[0])} new crossing(s), "
              f"{int(outbox.n_resolved.iloc[0])} resolved.</p>") if len(outbox) else "<p>No new crossing today (no digest).</p>"
    cn = _q("SELECT DISTINCT concept_id, concept_name FROM concept_concentration WHERE run_date = :d", d, settings)
    cnames = dict(zip(cn["concept_id"], cn["concept_name"]))

    def subject(sid: str) -> str:
        """An alert's subject as a person reads it (market, firm, concept or relationship names)."""
        parts = str(sid).split(":")
        if parts[0] in ("relationship", "firm") and len(parts) == 2:
            return " → ".join(E(names.get(x, x)) for x in parts[1].split("->"))
        return " · ".join(E(mnames.get(x, cnames.get(x, names.get(x, x)))) for x in parts) + f" <small>{E(sid)}</small>"

    rows = "".join(f'<tr><td class="firing">{E(r.rule_id)}</td><td>{subject(r.subject_id)}</td><td>{r.value:,.1f}</td>'
                   f"<td>{r.threshold:g}</td></tr>" for r in firing.itertuples())
    sections["changes"] = (changes_section(d, names, subject, market, settings)
                           + "<h3 id='alerts'>Alerts firing</h3>" + digest
                           + (f"<table class='data'><tr><th>rule</th><th>subject</th><th>value</th><th>threshold</th></tr>"
                              f"{rows}</table>" if rows else _no_data("no alert is firing")))

    # summary
    latest = conc[conc["period_end"] == conc.groupby("market_id")["period_end"].transform("max")] if len(conc) else conc
    whole = latest[~latest["zone"].fillna("").str.startswith("n/a")] if len(latest) else latest  # whole markets only
    if len(whole) and "fresh" in whole:
        whole = whole[whole["fresh"].fillna(True).astype(bool)]                  # fresh series only
    top3 = whole.sort_values("hhi", ascending=False).head(3)
    summary = "<div class='summary'><b>Most concentrated markets</b> (fresh series, latest period): " + (
        "; ".join(f"{i + 1}. {market(r.market_id)}, {E(r.period)} — HHI {r.hhi:,.0f} ({E(r.zone or '')}) "
                  f"{age_badge(getattr(r, 'data_age_days', None), getattr(r, 'fresh', None), getattr(r, 'stale_after', None))} "
                  f"{_src_links(r.source_refs, 3)}" for i, r in enumerate(top3.itertuples()))
        or ("no fresh series" if len(latest) else "no data")) + "<br>"
    summary += ("<b>Riskiest relationship</b>: " + (f"{E(names.get(risk.investor_id.iloc[0], risk.investor_id.iloc[0]))} → "
                f"{E(names.get(risk.investee_id.iloc[0], risk.investee_id.iloc[0]))}, antitrust risk "
                f"{risk.score.iloc[0]:.0f}/100 (rank band {risk.rank_p05.iloc[0]:.0f}–{risk.rank_p95.iloc[0]:.0f})"
                if len(risk) else "no data") + "</div>")
    sections["summary"] = summary

    # concentration per layer
    band = own.pivot_table(index=["market_id", "period"], columns="regime", values="mhhi") if len(own) else pd.DataFrame()
    parts = ["<h3 id='concentration'>Every series, per layer</h3><p><small>HHI in points on the reported shares "
             "(lower bound); upper bound takes the unattributed remainder as one firm; MHHI band across the silent, "
             "rights, proportional, full and jurisdictional control regimes (jurisdictional: control as the authorities reviewing "
             "the market's geography would class each stake); change against the previous period of the same series."
             "</small></p>"]
    if latest.empty:
        parts.append(_no_data("no market-period published for this date"))
    def conc_rows(frame: pd.DataFrame, stale: bool = False) -> str:
        body = []
        for r in frame.sort_values("hhi", ascending=False).itertuples():
            b = band.loc[(r.market_id, r.period)] if (r.market_id, r.period) in band.index else None
            mh = f"{b.min():,.0f}–{b.max():,.0f}" if b is not None else "n/a"
            ch = "" if pd.isna(r.hhi_change) else f"{r.hhi_change:+,.0f} vs {E(str(r.previous_period))}"
            if ch and bool(getattr(r, "coverage_change", False) or False):
                ch = (f"coverage change: {r.previous_attributed_pct:.0f}% → {r.attributed_pct:.0f}% attributed "
                      f"(HHI {r.hhi_change:+,.0f} vs {E(str(r.previous_period))} is not a concentration change)")
            badge = age_badge(getattr(r, "data_age_days", None), getattr(r, "fresh", None),
                              getattr(r, "stale_after", None))
            cls = " class='stale'" if stale else ""
            body.append(f"<tr{cls}><td>{market(r.market_id)}</td><td>{E(r.period)} {badge}"
                        f"</td><td>{r.hhi:,.0f}</td><td>{r.hhi_lower:,.0f}–{r.hhi_upper:,.0f}</td><td>{mh}</td>"
                        f"<td>{r.cr4:g}%</td><td>{E(r.zone or '')}</td><td>{ch}</td><td>{E(r.min_confidence or '')}</td>"
                        f"<td>{_src_links(r.source_refs)}</td></tr>")
        return ("<table><tr><th>market</th><th>period (age)</th><th>HHI</th><th>interval</th><th>MHHI band</th>"
                "<th>CR4</th><th>zone (2023 MG)</th><th>change</th><th>lowest confidence</th><th>sources</th></tr>"
                + "".join(body) + "</table>")

    is_fresh = latest["fresh"].fillna(True).astype(bool) if "fresh" in latest else pd.Series(True, index=latest.index)
    for layer, part in latest[is_fresh].groupby("layer"):
        parts.append(f"<h4>{E(layer)}</h4>" + conc_rows(part))
    stale = latest[~is_fresh]
    if len(stale):
        parts.append("<h4>Stale series</h4><p><small>Series whose latest period is past its stale-after date (two "
                     "periods of its cadence plus its usual publication lag, <code>config/freshness.yaml</code>): a newer "
                     "period was due and has not arrived. Shown for the record; the summary and the scores' market "
                     "power and overlap use fresh series only.</small></p>" + conc_rows(stale, stale=True))
    sections["concentration"] = "".join(parts)

    # concepts: one consensus across analyst series
    cons = _q("SELECT * FROM concept_concentration WHERE run_date = :d AND bucket = 'latest' ORDER BY "
              "n_fresh DESC, median_hhi DESC", d, settings)
    firms = _q("SELECT * FROM concept_firm_shares WHERE run_date = :d AND bucket = 'latest' AND n_series > 0",
               d, settings)
    rows = []
    for r in cons[cons["n_series"] > 1].itertuples() if len(cons) else ():
        top = firms[firms["concept_id"] == r.concept_id].sort_values("share_median", ascending=False).head(3)
        who = "; ".join(f"{E(names.get(t.entity_id, t.entity_id))} {t.share_min:.3g}–{t.share_max:.3g}% "
                        f"<small>({t.n_series} of {t.n_fresh})</small>" for t in top.itertuples())
        band = (f"<small>no fresh series; all {int(r.n_series)}: {r.median_hhi_all:,.0f} ({r.hhi_min_all:,.0f}–"
                f"{r.hhi_max_all:,.0f}), stale</small>" if pd.isna(r.median_hhi)
                else f"{r.median_hhi:,.0f} <small>({r.hhi_min:,.0f}–{r.hhi_max:,.0f})</small>")
        agree = "" if r.zones_agree is None or pd.isna(r.zones_agree) else (
            E(str(r.zone)) if bool(r.zones_agree) else "<i>series disagree</i>")
        rows.append(f"<tr><td>{E(r.concept_name)}</td><td>{int(r.n_fresh)} of {int(r.n_series)}</td><td>{band}</td>"
                    f"<td>{agree}</td><td>{who}</td></tr>")
    sections["concepts"] = ("<h2 id='concepts'>Where concentration is highest now</h2><h3>By concept: the analysts "
                            "side by side</h3><p><small>Series that measure the "
                    "same thing (<code>config/concepts.yaml</code>), each at its latest period: the median HHI and the "
                    "band over the fresh series, whether they agree on the 2023 zone, and the largest firms' share range "
                    "across them (in how many of the fresh series). Denominators differ between series: nothing is "
                    "averaged into one market.</small></p>" + (
                        "<table><tr><th>concept</th><th>fresh series</th><th>median HHI (band)</th><th>zone</th>"
                        "<th>largest firms (share range)</th></tr>" + "".join(rows) + "</table>"
                        if rows else _no_data("no concept with more than one series")))
    sections["concepts"] += dominance_table(d, names, mnames, settings)

    # trends
    sections["trends"] = "<h3 id='trends'>HHI over time</h3>" + hhi_charts(conc, mnames, d, settings)

    # network
    inv = _q("SELECT * FROM investment_facts WHERE run_date = :d", d, settings)
    com = _q("SELECT * FROM commitment_facts WHERE run_date = :d", d, settings)
    loops = _q("SELECT * FROM circular_flows WHERE run_date = :d", d, settings)
    loop_rows = "".join(f"<tr><td>{E(r.path.replace('>', ' → '))}</td><td>{E(r.edge_kinds)}</td>"
                        f"<td>{'' if pd.isna(r.out_usd_bn) else f'{r.out_usd_bn:g}'}</td>"
                        f"<td>{'' if pd.isna(r.out_ceiling_usd_bn) else f'{r.out_ceiling_usd_bn:g}'}</td>"
                        f"<td>{'' if pd.isna(r.back_usd_bn) else f'{r.back_usd_bn:g}'}</td>"
                        f"<td>{'' if pd.isna(r.round_trip_ratio) else f'{r.round_trip_ratio:.2f}'}</td>"
                        f"<td>{E(str(r.first_date))} – {E(str(r.last_date))}</td></tr>" for r in loops.itertuples())
    links = _q("SELECT * FROM compute_links WHERE run_date = :d", d, settings)
    sections["network"] = ("<h2 id='network'>Who is entangled with whom</h2><p><small>Blue: equity (investor → "
                    "investee); amber: compute commitments (buyer → supplier); red: edges on a money loop; dashed: "
                    "'up to' ceilings only; width grows with dollars. Green dotted: compute an owner's data centers "
                    "or clusters provide to a user (Epoch AI), width by H100e.</small></p>"
                    + "<div class='netwrap'>" + network_chart(inv, com, entities, loops, links=links) + "</div>"
                    + ("<h3>Money loops</h3><table><tr><th>path</th><th>kinds</th><th>out $bn</th><th>out ceiling $bn</th>"
                       f"<th>back $bn</th><th>ratio</th><th>dates</th></tr>{loop_rows}</table>" if loop_rows
                       else _no_data("no money loop")))

    # lock-in heatmap
    from .antitrust import _supplier_shares
    from .lockin import model_builders, prepare_commitments

    risk_cfg = load_yaml(settings.home / "config" / "risk.yaml")
    sup = pd.DataFrame()
    if len(com) and len(entities):
        sup, _ = _supplier_shares(prepare_commitments(com, entities, risk_cfg))
        sup = sup[sup["buyer_group"].isin(model_builders(entities))]
    lk = _q("SELECT buyer_id, score, explanation FROM lockin_scores WHERE run_date = :d AND layer = 'all' AND "
            "score IS NOT NULL ORDER BY score DESC", d, settings)
    lk_rows = "".join(f"<tr><td>{E(names.get(r.buyer_id, r.buyer_id))}</td><td>{r.score:.0f}</td>"
                      f"<td><small>{E(r.explanation)}</small></td></tr>" for r in lk.itertuples())
    sections["lockin"] = ("<h2 id='lockin'>Vendor lock-in</h2>" + heatmap(sup, names)
                          + (f"<table class='data'><tr><th>buyer</th><th>lock-in</th><th>why</th></tr>{lk_rows}</table>"
                             if lk_rows else ""))

    # risks, each with its control and jurisdiction screens (riskmodels.screens)
    scr = _q("SELECT investor_id, investee_id, screen, as_of, stake_pct, votes_pct, rights, verdict, regime, verified, "
             "source FROM screens WHERE run_date = :d", d, settings)
    by_pair = {k: g for k, g in scr.groupby(["investor_id", "investee_id"])} if len(scr) else {}

    labels = {"mguppi": "MGUPPI", "entrenchment": "Entrenchment", "eu_non_horizontal": "EU non-horizontal safe harbour",
              "critical_recapture": "Input foreclosure (critical recapture)",
              "effective_dhhi": "Input foreclosure (effective ΔHHI)", "coordinated": "Coordinated effects"}

    def label(screen: str) -> str:
        return screen.split(".", 1)[1].upper() if screen.startswith("control.") else labels.get(screen, screen)

    def screens_table(inv_id: str, inee_id: str) -> str:
        g = by_pair.get((inv_id, inee_id))
        if g is None:
            return "<p><small>Control screens: no stake row for this pair (a commitment or an undisclosed stake).</small></p>"
        g = g.sort_values("screen")
        first = g.iloc[0]
        if not first.screen.startswith("control."):   # no stake row: only an entrenchment flag
            return ("<table class='screens'><tr><th colspan='3'>Screens</th></tr>" + "".join(
                f"<tr><td>{E(label(x.screen))}</td><td>{E(x.verdict)}</td><td><small>{E(x.source)}"
                f"{'' if x.verified == 'primary' else ' · <b>unverified</b>'}</small></td></tr>"
                for x in g.itertuples()) + "</table>")
        stake = "" if pd.isna(first.stake_pct) else f"{first.stake_pct:g}% stake, "
        votes = "votes undisclosed" if pd.isna(first.votes_pct) else f"{first.votes_pct:g}% of votes"
        return (f"<table class='screens'><tr><th colspan='3'>Control and jurisdiction ({stake}{votes}"
                f"{'; ' + E(str(first.rights)) if isinstance(first.rights, str) and first.rights else ''}; stake row of "
                f"{E(str(first.as_of))})</th></tr>" + "".join(
                    f"<tr><td>{E(label(x.screen))}</td><td>{E(x.verdict)}"
                    f"{'' if not (isinstance(x.regime, str) and x.screen.startswith('control.')) else f' <small>(γ: {E(x.regime)})</small>'}"
                    f"</td><td><small>"
                    f"{E(x.source)}{'' if x.verified == 'primary' else ' · <b>unverified</b>'}</small></td></tr>"
                    for x in g.sort_values("screen").itertuples()) + "</table>")

    cards = "".join(f"<div class='risk'><b>{E(names.get(r.investor_id, r.investor_id))} → "
                    f"{E(names.get(r.investee_id, r.investee_id))}</b>: {r.score:.0f}/100, rank {r.rank} "
                    f"(band {r.rank_p05:.0f}–{r.rank_p95:.0f}; PCA view {r.score_pca:.0f}) {_src_links(r.source_refs)}"
                    f"{component_bars(r.components)}<p><small>{E(r.explanation)}</small></p>"
                    f"{screens_table(r.investor_id, r.investee_id)}</div>"
                    for r in risk.head(8).itertuples())
    sections["risk"] = ("<h2 id='risk'>The riskiest relationships</h2>" + (cards or _no_data("no investment relationship")))

    # compute (Epoch AI)
    sections["compute"] = compute_section(d, names, settings)

    # SEC filings
    sections["filings"] = sec_section(d, names, settings)

    # data quality (readable offline: no Data Docs assets needed)
    sections["quality"] = quality_section(d, settings)

    # provenance
    facts = _q("SELECT ref_file, ref_row, market_id, period, entity_id, share_pct, source, source_url, source_date, "
               "confidence FROM market_share_facts WHERE run_date = :d ORDER BY ref_file, ref_row", d, settings)
    # an Epoch release is ONE source row (its thousands of derived shares are in the Compute section)
    derived = facts["ref_file"].astype(str).str.startswith("epoch:")
    releases = facts[derived].drop_duplicates("ref_file").assign(market_id="compute.epoch.*", period="all quarters",
                                                                 entity_id="", share_pct=np.nan)
    facts = pd.concat([facts[~derived], releases], ignore_index=True)
    prov = []
    for r in facts.itertuples():
        url = str(r.source_url) if isinstance(r.source_url, str) else ""
        link = f'<a href="{E(url, quote=True)}" rel="noreferrer">{E(url[:70])}</a>' if url.startswith("http") else ""
        ref = f"{r.ref_file}" if pd.isna(r.ref_row) else f"{r.ref_file}#{r.ref_row}"  # a filing: its accession
        prov.append(f'<tr id="{_src_anchor(ref)}"><td>{E(ref)}</td>'
                    f"<td>{market(r.market_id)} {E(r.period)}</td><td>{E(names.get(r.entity_id, r.entity_id))} "
                    f"{'' if pd.isna(r.share_pct) else f'{r.share_pct:g}%'}</td><td>{E(str(r.source))}</td>"
                    f"<td>{E(str(r.source_date or ''))}</td><td>{E(str(r.confidence))}</td><td>{link}</td></tr>")
    for frame, fname, (a, b) in ((inv, "investments.csv", ("investor_id", "investee_id")),
                                 (com, "compute_commitments.csv", ("buyer_id", "supplier_id"))):
        for r in frame.itertuples():
            url = str(r.source_url) if isinstance(r.source_url, str) else ""
            link = f'<a href="{E(url, quote=True)}" rel="noreferrer">{E(url[:70])}</a>' if url.startswith("http") else ""
            who = " → ".join(E(names.get(x, x)) for x in (getattr(r, a, ""), getattr(r, b, "")) if isinstance(x, str))
            prov.append(f'<tr id="{_src_anchor(f"{fname}#{r.ref_row}")}"><td>{fname}#{r.ref_row}</td><td>{who} {E(str(r.date))}'
                        f"</td><td>{'' if pd.isna(r.amount_usd_bn) else f'${r.amount_usd_bn:g}bn ({r.amount_basis})'}</td>"
                        f"<td>{E(str(r.source))}</td><td></td><td>{E(str(r.confidence))}</td><td>{link}</td></tr>")
    sections["provenance"] = ("<h2 id='provenance'>Provenance</h2><table class='data'><tr><th>row</th><th>what</th><th>value</th><th>source</th>"
                    f"<th>source date</th><th>confidence</th><th>address</th></tr>{''.join(prov)}</table>"
                    if prov else "<h2 id='provenance'>Provenance</h2>" + _no_data("no source row"))

    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>riskmodels report {E(str(d))}</title>"
            f"<style>{CSS}</style></head><body><h1>AI-stack concentration and antitrust risk</h1>"
            f"<p>Run date {E(str(d))}. Every figure links to its source rows in the provenance appendix.</p>"
            + NAV + "".join(sections[k] for k in ORDER) + f"<script>{TABLES}{PROBE}</script></body></html>")
    name = f"report-{d.isoformat()}.html"
    target = (storage.from_url(str(Path(out_dir).resolve() / name)) if out_dir is not None
              else storage.path("reports", name, settings=settings))
    storage.write_text(target, page)
    return storage.local_path(target) if storage.is_local(target) else target
