"""Screens analysts apply beyond HHI: control and jurisdiction per stake, unilateral-effects price
pressure (GUPPI, ownership-weighted MGUPPI, CMCR) and the vertical critical recapture rate.

Units: shares and votes in percent (0-100); margins, diversion ratios, kappa and results as
fractions (0.05 is 5%); price ratios are plain ratios. Rules and thresholds live in
``config/screens.yaml`` with their sources and a ``verified`` mark; every function validates its
inputs and raises ``ValueError`` naming the bad argument.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

RIGHTS = frozenset({"board_seat", "board_observer", "consultation", "commercial_dependence", "veto_budget",
                    "veto_business_plan", "veto_investments", "veto_appointments"})
JURISDICTIONS = ("uk", "eu", "de", "us")
UNKNOWN = "unknown (votes not disclosed)"
_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}


def _number(name: str, value, lo: float | None = None, hi: float | None = None, open_lo: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (v < lo or (open_lo and v == lo)):
        raise ValueError(f"{name} must be {'>' if open_lo else '>='} {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi:g}, got {v:g}")
    return v


@lru_cache(maxsize=4)
def _config(path: str) -> dict:
    from .config import load_yaml

    return load_yaml(Path(path))


def screens_config(settings=None) -> dict:
    """``config/screens.yaml`` of the project home."""
    from .config import get_settings

    settings = settings or get_settings()
    return _config(str(settings.home / "config" / "screens.yaml"))


# --------------------------------------------------------------------------- unilateral effects
def diversion(share_from_pct: float, share_to_pct: float, names=("share_from_pct", "share_to_pct")) -> float:
    """Share-proportional diversion ratio D_jk = s_k / (1 - s_j) (fraction), shares in percent."""
    s_j = _number(names[0], share_from_pct, 0, 100)
    s_k = _number(names[1], share_to_pct, 0, 100)
    if s_j + s_k > 100 + 1e-9:
        raise ValueError(f"{names[0]} + {names[1]} must be <= 100, got {s_j + s_k:g}")
    if s_j >= 100:
        raise ValueError(f"{names[0]} must be below 100 (no sales are left to divert)")
    return s_k / (100.0 - s_j)


def guppi(share_self_pct: float, share_other_pct: float, margin_other: float, price_ratio: float = 1.0) -> float:
    """Gross upward pricing pressure index on the firm's own price (fraction of its price).

    GUPPI_1 = D_12 x m_2 x P_2 / P_1 (Farrell and Shapiro 2010; 2010 Horizontal Merger Guidelines
    s.6.1), with share-proportional diversion D_12 = s_2 / (1 - s_1). ``price_ratio`` is P_other /
    P_self; ``margin_other`` the rival's price-cost margin (fraction)."""
    m = _number("margin_other", margin_other, 0, 1)
    r = _number("price_ratio", price_ratio, 0, open_lo=True)
    return diversion(share_self_pct, share_other_pct, ("share_self_pct", "share_other_pct")) * m * r


def guppi_screen(share_self_pct: float, share_other_pct: float, margin_other=None, price_ratio: float = 1.0,
                 kappa: float = 1.0, margin_range: tuple[float, float] | None = None, config: dict | None = None) -> dict:
    """MGUPPI (GUPPI when ``kappa`` = 1) against every threshold of ``config/screens.yaml``.

    ``margin_other`` must come from a cited source (a filing's margin, or an analyst assumption
    in config labelled as such); without one the screen is "not computable" - unless
    ``margin_range`` gives a sensitivity (low, high), reported as a range, never a point."""
    cfg = (config or screens_config())["unilateral"]["guppi_thresholds"]
    if margin_other is None or (isinstance(margin_other, float) and math.isnan(margin_other)):
        if margin_range is None:
            return {"value": None, "verdict": "not computable (no cited margin)", "thresholds": cfg}
        lo, hi = (mguppi(kappa, share_self_pct, share_other_pct, m, price_ratio) for m in margin_range)
        over = [t["value"] for t in cfg if hi > t["value"]]
        return {"value": None, "low": lo, "high": hi, "thresholds": cfg,
                "verdict": f"sensitivity only: {100 * lo:.2f}%-{100 * hi:.2f}% over margins "
                           f"{margin_range[0]:g}-{margin_range[1]:g}; above {', '.join(f'{100 * v:g}%' for v in over) or 'no threshold'} at the high end"}
    v = mguppi(kappa, share_self_pct, share_other_pct, margin_other, price_ratio)
    over = [t["value"] for t in cfg if v > t["value"]]
    return {"value": v, "thresholds": cfg,
            "verdict": f"{100 * v:.2f}%: above {', '.join(f'{100 * t:g}%' for t in over)}" if over
            else f"{100 * v:.2f}%: below every threshold"}


def mguppi(kappa: float, share_self_pct: float, share_other_pct: float, margin_other: float,
           price_ratio: float = 1.0) -> float:
    """Ownership-weighted GUPPI: kappa x D_12 x m_2 x P_2 / P_1, with kappa the weight the firm's
    controllers put on the rival's profit (O'Brien and Salop 2000; kappa = 1 is a full merger,
    where MGUPPI equals GUPPI; kappa = 0 is no pressure)."""
    k = _number("kappa", kappa, 0, 1)
    return k * guppi(share_self_pct, share_other_pct, margin_other, price_ratio)


def cmcr(margin_1: float, margin_2: float, diversion_12: float, diversion_21: float, price_ratio: float = 1.0) -> float:
    """Compensating marginal cost reduction for product 1 of a two-product merger (fraction of its
    marginal cost), Bertrand pricing (Werden 1996):

    CMCR_1 = (m_1 D_12 D_21 + m_2 D_12 P_2/P_1) / ((1 - m_1)(1 - D_12 D_21)); ``price_ratio`` is P_2 / P_1."""
    m1 = _number("margin_1", margin_1, 0, 1)
    m2 = _number("margin_2", margin_2, 0, 1)
    d12 = _number("diversion_12", diversion_12, 0, 1)
    d21 = _number("diversion_21", diversion_21, 0, 1)
    r = _number("price_ratio", price_ratio, 0, open_lo=True)
    if m1 >= 1:
        raise ValueError("margin_1 must be below 1 (a zero marginal cost cannot be reduced)")
    if d12 * d21 >= 1:
        raise ValueError("diversion_12 x diversion_21 must be below 1")
    return (m1 * d12 * d21 + m2 * d12 * r) / ((1 - m1) * (1 - d12 * d21))


def critical_recapture(margin_up: float, price_up: float, margin_down: float, price_down: float) -> float:
    """Critical recapture rate of an input foreclosure (fraction): r* = m_U w / (m_D P_D), the
    share of a foreclosed rival's downstream sales the integrated firm must win for refusing to
    supply to pay (upstream profit per unit lost over downstream profit per unit won; Moresi and
    Salop 2013). Prices in any one currency per unit; above 1 the foreclosure never pays."""
    mu = _number("margin_up", margin_up, 0, 1)
    w = _number("price_up", price_up, 0, open_lo=True)
    md = _number("margin_down", margin_down, 0, 1, open_lo=True)
    p = _number("price_down", price_down, 0, open_lo=True)
    return mu * w / (md * p)


def share_recapture(share_down_pct: float, share_rival_pct: float) -> float:
    """Share-proportional actual recapture: the integrated firm's share of the sales a foreclosed
    rival loses, s_D / (1 - s_rival) (fraction), shares in percent."""
    return diversion(share_rival_pct, share_down_pct)


# --------------------------------------------------------------------------- control and jurisdiction
def _holds(rule: dict, votes: float, rights: frozenset, capital: float = float("nan")) -> bool:
    if "votes" in rule:
        op, bound = rule["votes"]
        if not _OPS[op](votes, bound):
            return False
    if "capital_or_votes" in rule:
        op, bound = rule["capital_or_votes"]
        if not _OPS[op](np.fmax(votes, capital), bound):
            return False
    if "any_right" in rule and not rights & set(rule["any_right"]):
        return False
    return True


def _rights(rights) -> frozenset:
    if rights is None:
        return frozenset()
    if isinstance(rights, str):
        rights = [r for r in rights.replace(",", ";").split(";") if r.strip()]
    got = frozenset(str(r).strip() for r in rights)
    bad = got - RIGHTS
    if bad:
        raise ValueError(f"rights has unknown value(s) {sorted(bad)}; known: {sorted(RIGHTS)}")
    return got


def control_class(votes_pct, rights: Iterable[str] | str | None, jurisdiction: str, config: dict | None = None,
                  capital_pct=None) -> dict:
    """The control or jurisdiction class of one stake: ``{"class", "regime", "verified", "source"}``.

    ``votes_pct`` is the holder's share of the votes (percent; NaN or None when undisclosed:
    the class is "unknown (votes not disclosed)" and the regime None); ``rights`` any of
    :data:`RIGHTS`; ``jurisdiction`` one of uk, eu, de, us; ``capital_pct`` the share of the
    capital where a rule counts capital or votes (GWB s.37(1) no. 3). The classes, their boundaries
    (strict or not, as each text words it) and the gamma regime each implies are in
    ``config/screens.yaml``."""
    cfg = (config or screens_config())["control"]
    if jurisdiction not in cfg:
        raise ValueError(f"jurisdiction must be one of {sorted(cfg)}, got {jurisdiction!r}")
    got = _rights(rights)
    j = cfg[jurisdiction]
    meta = {"verified": j.get("verified", "unverified"), "source": j["source"]}
    c = float("nan") if capital_pct is None or pd.isna(capital_pct) else _number("capital_pct", capital_pct, 0, 100)
    if votes_pct is None or (isinstance(votes_pct, float) and math.isnan(votes_pct)):
        # undisclosed votes: only a capital share that meets a "capital or votes" rule decides
        for r in j["classes"]:
            if "capital_or_votes" in r and not math.isnan(c) and _holds(r, c, got, c):
                return {"class": r["name"], "regime": r["regime"], **meta}
        return {"class": UNKNOWN, "regime": None, **meta}
    v = _number("votes_pct", votes_pct, 0, 100)
    rule = next(r for r in j["classes"] if _holds(r, v, got, c))
    return {"class": rule["name"], "regime": rule["regime"], **meta}


def stake_controls(stakes: pd.DataFrame, config: dict | None = None) -> pd.DataFrame:
    """Every stake row (``data/stake_rights.csv`` columns: investor_id, investee_id, as_of,
    stake_pct, voting, board_seat, board_observer, consultation_or_info_rights) with its class
    and regime per jurisdiction: one row per stake x jurisdiction. Votes are the stake where it
    votes (``voting == yes``), 0 where it does not, unknown otherwise; ``yes`` in the board and
    consultation columns are the rights (an empty or ``unknown`` cell is not a right); capital is
    the stake. Commercial dependence is not read from the prose ``exclusivity_or_rofr`` column
    ("Exclusivity ended" is not a dependence): pass it to :func:`control_class` where known."""
    cfg = config or screens_config()
    s = stakes.reset_index(drop=True)
    voting = s["voting"].fillna("unknown").astype(str).str.lower()
    stake = pd.to_numeric(s["stake_pct"], errors="coerce")
    votes = np.where(voting == "yes", stake, np.where(voting == "no", 0.0, np.nan))
    has = {r: np.zeros(len(s), dtype=bool) for r in RIGHTS}
    for col, right in (("board_seat", "board_seat"), ("board_observer", "board_observer"),
                       ("consultation_or_info_rights", "consultation")):
        if col in s:
            has[right] = s[col].fillna("").astype(str).str.lower().str.startswith("yes").to_numpy()
    known = ~np.isnan(votes)
    rights_text = pd.Series([""] * len(s), dtype=object)
    for r in sorted(has):
        rights_text = rights_text.where(~has[r], rights_text.str.cat([r] * len(s), sep=";").str.lstrip(";"))
    out = []
    for j in JURISDICTIONS:
        jc = cfg["control"][j]
        name = np.full(len(s), UNKNOWN, dtype=object)
        regime = np.full(len(s), None, dtype=object)
        open_ = np.ones(len(s), dtype=bool)       # rows no class has taken yet (first match wins)
        for rule in jc["classes"]:                # vectorised over stakes, one pass per class
            # undisclosed votes: only a capital share meeting a "capital or votes" rule decides
            ok = open_ & (known | ("capital_or_votes" in rule))
            if "votes" in rule:
                op, bound = rule["votes"]
                ok &= _OPS[op](np.nan_to_num(votes, nan=-1.0), bound)
            if "capital_or_votes" in rule:
                op, bound = rule["capital_or_votes"]
                ok &= _OPS[op](np.nan_to_num(np.fmax(votes, stake.to_numpy()), nan=-1.0), bound)
            if "any_right" in rule:
                ok &= np.logical_or.reduce([has[r] for r in rule["any_right"]])
            name[ok], regime[ok] = rule["name"], rule["regime"]
            open_ &= ~ok
        out.append(s[["as_of", "investor_id", "investee_id", "stake_pct", "voting"]].assign(
            votes_pct=votes, rights=rights_text.to_numpy(), jurisdiction=j, control_class=name, regime=regime,
            verified=jc.get("verified", "unverified"), source=jc["source"]))
    return pd.concat(out, ignore_index=True)


def daily_control_screens(stakes: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The run's ``screens`` rows: for the latest stake row known per (investor, investee), its
    control class per jurisdiction (``screen`` = ``control.<jurisdiction>``; ``value`` the votes in
    percent, ``verdict`` the class, ``regime`` the gamma regime it implies; no single threshold, so
    ``threshold`` is empty), with the rule's source and ``verified`` mark."""
    from .dates import date_end

    cols = ["run_date", "investor_id", "investee_id", "screen", "as_of", "stake_pct", "votes_pct", "voting", "rights",
            "value", "threshold", "verdict", "regime", "verified", "source", "ref_file", "ref_row"]
    if stakes.empty:
        return pd.DataFrame(columns=cols[1:])
    s = stakes.assign(_end=date_end(stakes["as_of"].astype(str)), _row=pd.to_numeric(stakes.get("ref_row"), errors="coerce"))
    s = s.sort_values(["_end", "_row"], kind="stable").reset_index(drop=True)
    # the latest row as stated: a later round that leaves votes unknown is unknown (never carried over)
    latest = s.drop_duplicates(["investor_id", "investee_id"], keep="last").drop(columns=["_end", "_row"])
    t = stake_controls(latest, config)
    refs = latest.set_index(["investor_id", "investee_id"])[["ref_file", "ref_row"]] if "ref_file" in latest else None
    out = t.assign(screen="control." + t["jurisdiction"], value=t["votes_pct"], threshold=np.nan,
                   verdict=t["control_class"], as_of=t["as_of"].astype(str))
    if refs is not None:
        out = out.join(refs, on=["investor_id", "investee_id"])
    else:
        out = out.assign(ref_file=None, ref_row=None)
    return out[cols[1:]].reset_index(drop=True)
