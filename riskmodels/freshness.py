"""The age of every figure: cadence, stale-after date, age in days and freshness per market-period.

A series' cadence comes from its period labels (``2024Q3`` quarter, ``2025H1`` half, ``2023FY``
year, ``2026-04`` month, ``2026-01-02`` day: a tracker's snapshot, refreshed as config says). On run
date D a market-period is **fresh** when

    D <= period_end + stale_after_periods x cadence + lag_days      (config/freshness.yaml)

so a quarterly series is stale two quarters after its last period plus its usual publication lag
(by then two newer periods should have appeared). ``data_age_days`` = D - period_end. Vectorised.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from .dates import period_end

CADENCE_RE = {"quarter": r"^\d{4}Q[1-4]$", "half": r"^\d{4}H[12]$", "year": r"^\d{4}FY$", "month": r"^\d{4}-\d{2}$",
              "day": r"^\d{4}-\d{2}-\d{2}$"}


def cadence(periods: pd.Series) -> pd.Series:
    """``quarter``, ``half``, ``year``, ``month`` or ``day`` per period label (None if unknown)."""
    s = periods.astype("string").str.strip()
    out = pd.Series(None, index=s.index, dtype=object)
    for name, rx in CADENCE_RE.items():
        out[s.str.fullmatch(rx).fillna(False).astype(bool).to_numpy()] = name
    out = out.astype(object)
    return out.where(out.notna(), None)


def freshness(markets: pd.Series, periods: pd.Series, run_date: dt.date, cfg: dict) -> pd.DataFrame:
    """Per row: ``period_end`` (date), ``cadence``, ``stale_after`` (the last fresh day, date),
    ``data_age_days`` (run date minus period end, days) and ``fresh`` (bool; False when the
    period cannot be read)."""
    end = period_end(periods)
    cad = cadence(periods)
    months = cad.map(cfg["cadence_months"]).astype(float)
    lag = cad.map(cfg["lag_days"]).astype(float)
    k = pd.Series(float(cfg["stale_after_periods"]), index=periods.index)
    for rule in reversed(cfg.get("markets") or []):        # first match wins: apply in reverse
        hit = markets.astype(str).str.contains(rule["match"], regex=True).to_numpy()
        if "lag_days" in rule:
            lag[hit] = float(rule["lag_days"])
        if "stale_after_periods" in rule:
            k[hit] = float(rule["stale_after_periods"])
    # months are added on the period end's month grid (period ends are month ends)
    add = (k * months).round().astype("Int64")
    base = end.dt.to_period("M")
    shifted = pd.Series(pd.NaT, index=periods.index, dtype="datetime64[ns]")
    ok = end.notna() & add.notna()
    if ok.any():
        shifted[ok] = (base[ok] + add[ok].astype(int).to_numpy()).dt.to_timestamp(how="end").dt.normalize()
    stale_after = shifted + pd.to_timedelta(lag.fillna(0), unit="D")
    d = pd.Timestamp(run_date)
    age = (d - end).dt.days
    fresh = (stale_after >= d).fillna(False).astype(bool) & ok.to_numpy()
    return pd.DataFrame({"period_end": end.dt.date, "cadence": cad, "stale_after": stale_after.dt.date,
                         "data_age_days": age.astype("Int64"), "fresh": fresh.to_numpy()}, index=periods.index)

