"""Terminal summaries of the published tables (read-only; used by the CLI and ``make run``)."""
from __future__ import annotations

import pandas as pd

from . import store
from .config import Settings, get_settings


def latest_concentration(layer: str | None = None, top: int = 10, per_layer: bool = False,
                         settings: Settings | None = None) -> pd.DataFrame:
    """The newest period of every market in the latest run, most concentrated first
    (``top`` rows overall, or per layer with ``per_layer``)."""
    query = ("SELECT market_id, layer, analyst, period, hhi, hhi_upper, attributed_pct, cr4, zone, "
             "top_entity_id, min_confidence FROM v_latest_concentration")
    params = {}
    if layer:
        query += " WHERE layer = :layer"
        params["layer"] = layer
    df = store.read_sql(query + " ORDER BY layer, hhi DESC", params, settings)
    if per_layer:
        return df.groupby("layer", sort=True).head(top).reset_index(drop=True)
    return df.sort_values("hhi", ascending=False, kind="stable").head(top).reset_index(drop=True)


def format_table(df: pd.DataFrame) -> str:
    """Plain-text table: HHI in points without decimals, shares in percent."""
    if df.empty:
        return "(no rows published yet: run `riskmodels run --date YYYY-MM-DD` or `make run`)"
    out = df.copy()
    for col in ("hhi", "hhi_upper"):
        if col in out:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
    for col in ("attributed_pct", "cr4"):
        if col in out:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:g}%")
    return out.to_string(index=False)


def where_results_are(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return "\n".join([
        f"Risk store:  {settings.db_url}",
        "  tables:    concentration, market_share_facts, investment_facts, commitment_facts, entities, markets,",
        "             raw_inputs, validation_results, pipeline_runs; views v_latest_concentration, v_concentration_change",
        f"Landing:     {settings.landing_dir}",
        f"Data Docs:   {settings.gx_dir / 'uncommitted' / 'data_docs' / 'local_site' / 'index.html'}",
    ])
