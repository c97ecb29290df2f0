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
#: prefix of the class of a stake whose votes are not disclosed but whose rights alone give a class:
#: the class those rights give at no votes, a floor (more votes can only raise it)
AT_LEAST = "votes not disclosed; with these rights at least: "
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
    return load_config(Path(path))


def load_config(path: Path) -> dict:
    """A screens config file (``config/screens.yaml``) with its calibrated thresholds computed."""
    from .config import load_yaml

    cfg = load_yaml(Path(path))
    for th in (cfg.get("unilateral") or {}).get("guppi_thresholds") or []:
        if "calibrate_delta" in th:   # a threshold calibrated to a ΔHHI bound, computed, never typed
            th["value"] = guppi_from_delta(th["calibrate_delta"], th.get("margin", 1.0), th.get("recapture", 1.0))
    return cfg


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


def guppi_from_delta(delta_points: float, margin: float = 1.0, recapture: float = 1.0) -> float:
    """GUPPI bound (fraction) equivalent to a ΔHHI bound (points): the GUPPI of a merger of two
    equal firms whose ΔHHI is the bound, 2 s^2 = ΔHHI, so s = sqrt(ΔHHI / 2) (percent) and
    GUPPI = margin x recapture x s / (1 - s) (mergeron's guppi_from_delta, without its rounding
    to 0.5%). ``margin`` the price-cost margin (fraction; 1 is the parametric bound mergeron
    uses), ``recapture`` the recapture rate (1: share-proportional diversion with no outside
    good, the convention of :func:`diversion`)."""
    d = _number("delta_points", delta_points, 0, 5000, open_lo=True)
    m = _number("margin", margin, 0, 1, open_lo=True)
    r = _number("recapture", recapture, 0, 1, open_lo=True)
    s = math.sqrt(d / 2.0) / 100.0
    return m * r * s / (1.0 - s)


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


def cmcr_screen(share_1_pct: float, share_2_pct: float, margin_1=None, margin_2=None, price_ratio: float = 1.0,
                margin_range: tuple[float, float] | None = None, names: tuple[str, str] = ("firm 1", "firm 2")) -> dict:
    """CMCR of a two-firm merger for both products with share-proportional diversion
    (D_12 = s_2 / (100 - s_1), D_21 = s_1 / (100 - s_2); shares in percent), margins from cited
    sources only. Without both margins: "not computable", or with ``margin_range`` a sensitivity
    with each missing margin at each end of the range (reported as a range, never a point).
    Returns ``value_1`` / ``value_2`` (fractions of each product's marginal cost) or ``low`` /
    ``high`` (product 1's range), and a ``verdict``. No threshold: CMCR is set against the
    efficiencies the parties can show (Werden 1996)."""
    d12 = diversion(share_1_pct, share_2_pct, ("share_1_pct", "share_2_pct"))
    d21 = diversion(share_2_pct, share_1_pct, ("share_2_pct", "share_1_pct"))
    known = [m for m in (margin_1, margin_2) if m is not None and not (isinstance(m, float) and math.isnan(m))]
    if len(known) < 2:
        missing = " and ".join(n for n, m in zip(names, (margin_1, margin_2)) if m is None
                               or (isinstance(m, float) and math.isnan(m)))
        if margin_range is None:
            return {"value_1": None, "value_2": None, "verdict": f"not computable (no cited margin for {missing})"}
        def given(m, x):
            return x if m is None or (isinstance(m, float) and math.isnan(m)) else m

        lo, hi = (cmcr(given(margin_1, m), given(margin_2, m), d12, d21, price_ratio) for m in margin_range)
        return {"value_1": None, "value_2": None, "low": lo, "high": hi,
                "verdict": f"sensitivity only (no cited margin for {missing}): {names[0]}'s marginal cost must fall "
                           f"{100 * lo:.2f}%-{100 * hi:.2f}% over margins {margin_range[0]:g}-{margin_range[1]:g} "
                           f"for {missing} to keep its price unchanged"}
    v1 = cmcr(margin_1, margin_2, d12, d21, price_ratio)
    v2 = cmcr(margin_2, margin_1, d21, d12, 1.0 / _number("price_ratio", price_ratio, 0, open_lo=True))
    return {"value_1": v1, "value_2": v2,
            "verdict": f"marginal costs must fall {100 * v1:.2f}% ({names[0]}) and {100 * v2:.2f}% ({names[1]}) "
                       "to keep prices unchanged"}


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


def effective_dhhi(stake: float, share_down_pct: float, share_rival_pct: float, pass_through: float = 1.0,
                   supply_share: float = 1.0) -> float:
    """Effective ΔHHI of an input foreclosure in the downstream market (points), through the MHHI
    engine: the profit weight kappa_RD = stake x pass_through x supply_share that makes the
    foreclosure's pricing pressure on the rival R equal an MGUPPI, then O'Brien-Salop's MHHI
    delta of that one weight, kappa_RD s_R s_D.

    Derivation (following the method Moresi and Salop 2020/2021 state - compare the UPP of an
    input foreclosure with the MGUPPI of a partial ownership interest; their closed form was not
    readable here, so config marks this ``unverified``): an upstream firm U holding cash-flow
    share ``stake`` of D gains stake x D_RD m_D P_D per unit it pushes up the input price to R
    (vGUPPI_u x w, Moresi and Salop 2013); if R buys ``supply_share`` of its input from U and
    ``pass_through`` of that pressure reaches R's price, R's price faces stake x pass_through x
    supply_share x D_RD m_D P_D / P_R, which is MGUPPI_R = kappa_RD D_RD m_D P_D / P_R (Salop and
    O'Brien) with kappa_RD = stake x pass_through x supply_share: margins and diversion cancel.
    The ceiling (full integration, sole supplier, full pass-through) is s_R s_D, half the ΔHHI of
    a horizontal merger of D and R, since only R's price is pushed.

    Units: ``stake``, ``pass_through``, ``supply_share`` fractions 0-1; shares in percent."""
    from .concentration import mhhi

    b = _number("stake", stake, 0, 1)
    rho = _number("pass_through", pass_through, 0, 1)
    phi = _number("supply_share", supply_share, 0, 1)
    s_d = _number("share_down_pct", share_down_pct, 0, 100)
    s_r = _number("share_rival_pct", share_rival_pct, 0, 100)
    if s_d + s_r > 100 + 1e-9:
        raise ValueError(f"share_down_pct + share_rival_pct must be <= 100, got {s_d + s_r:g}")
    k = b * rho * phi
    # firms in the order R, D. Owner 0 controls R, holding half of R and k/2 of D; owner 1
    # controls D with the rest of D; owner 2 holds the other half of R passively:
    # kappa_RD = (k/2) / (1/2) = k and kappa_DR = 0 (owner 1 holds nothing of R)
    beta = np.array([[0.5, 0.5 * k], [0.0, 1.0 - 0.5 * k], [0.5, 0.0]])
    gamma = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    return mhhi([s_r, s_d], beta, gamma).delta


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
                return {"class": r["name"], "regime": r["regime"], **meta, **_rule_meta(r, j)}
        floor = next(r for r in j["classes"] if _holds(r, 0.0, got, c))
        if floor["regime"] != "silent":   # the rights alone give a class at no votes: a floor
            return {"class": AT_LEAST + floor["name"], "regime": floor["regime"], **meta, **_rule_meta(floor, j)}
        return {"class": UNKNOWN, "regime": None, **meta}
    v = _number("votes_pct", votes_pct, 0, 100)
    rule = next(r for r in j["classes"] if _holds(r, v, got, c))
    return {"class": rule["name"], "regime": rule["regime"], **meta, **_rule_meta(rule, j)}


def _rule_meta(rule: dict, j: dict) -> dict:
    """A class's own source and verification, where it has its own text (a jurisdiction's classes
    may come from several rules: the HSR control definition beside the passive exemption)."""
    if "source" not in rule and "verified" not in rule:
        return {}
    return {"verified": rule.get("verified", j.get("verified", "unverified")),
            "source": rule.get("source", j["source"])}


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
    rights_text = pd.Series([""] * len(s), dtype=object)
    for r in sorted(has):
        rights_text = rights_text.where(~has[r], rights_text.str.cat([r] * len(s), sep=";").str.lstrip(";"))
    out = []
    for j in JURISDICTIONS:
        jc = cfg["control"][j]
        name, regime = _classify(votes, stake.to_numpy(dtype=float), has, jc)
        meta = {r["name"]: _rule_meta(r, jc) for r in jc["classes"] if _rule_meta(r, jc)}
        cls = pd.Series(name, dtype=object).str.removeprefix(AT_LEAST)
        verified = cls.map({k: m["verified"] for k, m in meta.items()}).fillna(jc.get("verified", "unverified"))
        source = cls.map({k: m["source"] for k, m in meta.items()}).fillna(jc["source"])
        out.append(s[["as_of", "investor_id", "investee_id", "stake_pct", "voting"]].assign(
            votes_pct=votes, rights=rights_text.to_numpy(), jurisdiction=j, control_class=name, regime=regime,
            verified=verified.to_numpy(), source=source.to_numpy()))
    return pd.concat(out, ignore_index=True)


def _classify(votes: np.ndarray, capital: np.ndarray, has: dict, jc: dict):
    """Class names and regimes of one jurisdiction for arrays of votes and capital (percent, NaN
    unknown) and rights (``has``: right -> bool array): the first class that holds, vectorised
    (one pass per class). Undisclosed votes: only a capital share meeting a "capital or votes"
    rule decides; else, where the rights alone give a class at no votes (a board seat under
    CMA2), that class is a floor (:data:`AT_LEAST`); otherwise the class is :data:`UNKNOWN` and
    the regime None."""
    n = len(votes)
    known = ~np.isnan(votes)
    name = np.full(n, UNKNOWN, dtype=object)
    regime = np.full(n, None, dtype=object)
    open_ = np.ones(n, dtype=bool)       # rows no class has taken yet (first match wins)
    for rule in jc["classes"]:
        ok = open_ & (known | ("capital_or_votes" in rule))
        if "votes" in rule:
            op, bound = rule["votes"]
            ok &= _OPS[op](np.nan_to_num(votes, nan=-1.0), bound)
        if "capital_or_votes" in rule:
            op, bound = rule["capital_or_votes"]
            ok &= _OPS[op](np.nan_to_num(np.fmax(votes, capital), nan=-1.0), bound)
        if "any_right" in rule:
            ok &= np.logical_or.reduce([has.get(r, np.zeros(n, dtype=bool)) for r in rule["any_right"]])
        name[ok], regime[ok] = rule["name"], rule["regime"]
        open_ &= ~ok
    rows = np.flatnonzero(open_)
    if len(rows):   # undisclosed votes: the class the rights give at no votes is a floor
        fname, fregime = _classify(np.zeros(len(rows)), capital[rows], {r: v[rows] for r, v in has.items()}, jc)
        floor = fregime != "silent"
        name[rows[floor]] = AT_LEAST + fname[floor].astype(str)
        regime[rows[floor]] = fregime[floor]
    return name, regime


_STRENGTH = {"silent": 0, "rights": 1, "full": 2}


def jurisdictional_weights(links: pd.DataFrame, jcfg: dict) -> pd.DataFrame:
    """``links`` (ownership.links_as_of) with the columns the ``jurisdictional`` MHHI regime
    reads: ``control_jurisdictional`` (the strongest regime any configured jurisdiction's class
    implies: full, rights, silent; unknown when no jurisdiction can class the link),
    ``gamma_jurisdictional`` (1 for full, the rights weight ``gamma_rights`` for rights and
    unknown, 0 for silent), ``votes_jurisdictional`` (the votes a link keeps from the other
    shareholders: none when silent) and ``full_jurisdictional``. ``jcfg``: ``control`` (the
    classes of config/screens.yaml) and ``jurisdictions``. Holder rows have votes and no rights."""
    n = len(links)
    votes = pd.to_numeric(links["votes"], errors="coerce").to_numpy(dtype=float) * 100.0
    capital = pd.to_numeric(links["beta"], errors="coerce").to_numpy(dtype=float) * 100.0
    yes = lambda col: (links[col].fillna("").astype(str).str.lower().str.startswith("yes").to_numpy()  # noqa: E731
                       if col in links else np.zeros(n, dtype=bool))
    has = {"board_seat": yes("board_seat"), "board_observer": yes("board_observer"), "consultation": yes("consultation")}
    best = np.full(n, -1)
    for j in jcfg["jurisdictions"]:
        _, regime = _classify(votes, capital, has, jcfg["control"][j])
        best = np.maximum(best, pd.Series(regime, dtype=object).map(_STRENGTH).fillna(-1).to_numpy(dtype=int))
    label = np.array(["unknown", "silent", "rights", "full"], dtype=object)[best + 1]
    gr = pd.to_numeric(links["gamma_rights"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    gamma = np.where(best == 2, 1.0, np.where(best == 0, 0.0, gr))
    kept = np.where(best == 0, 0.0, np.nan_to_num(votes / 100.0, nan=0.0))
    return links.assign(control_jurisdictional=label, gamma_jurisdictional=gamma, votes_jurisdictional=kept,
                        full_jurisdictional=best == 2)


def market_jurisdictions(market_ids: pd.Series, geography, jcfg: dict) -> pd.Series:
    """Per row of ``market_ids``, the jurisdictions whose control classes its ``jurisdictional``
    MHHI reads, comma-joined (``"us"``; ``"uk,eu,de,us"``): the ``by_geography`` entry of the
    market's geography (``geography``: market_id -> geography as data/markets.csv spells it), else
    the default ``jurisdictions`` (worldwide markets, geographies no entry names, unknown markets)."""
    default = ",".join(jcfg["jurisdictions"])
    unknown = sorted({j for js in (jcfg.get("by_geography") or {}).values() for j in js} - set(jcfg["control"]))
    if unknown:
        raise ValueError(f"jurisdictional_mhhi.by_geography names jurisdictions without control classes: {unknown}")
    by_geo = {g: ",".join(js) for g, js in (jcfg.get("by_geography") or {}).items()}
    geo = pd.Series(geography) if geography is not None else pd.Series(dtype=object)
    return market_ids.map(geo).map(by_geo).fillna(default).astype(object)


#: columns of the ``screens`` table (after run_date)
SCREEN_COLUMNS = ["subject_type", "subject_id", "screen", "investor_id", "investee_id", "entity_id", "market_id",
                  "period", "as_of", "stake_pct", "votes_pct", "voting", "rights", "value", "threshold", "verdict",
                  "regime", "verified", "source", "ref_file", "ref_row"]


def daily_control_screens(stakes: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The run's ``screens`` rows: for the latest stake row known per (investor, investee), its
    control class per jurisdiction (``screen`` = ``control.<jurisdiction>``; ``value`` the votes in
    percent, ``verdict`` the class, ``regime`` the gamma regime it implies; no single threshold, so
    ``threshold`` is empty), with the rule's source and ``verified`` mark."""
    from .dates import date_end

    cols = ["run_date", *SCREEN_COLUMNS]
    if stakes.empty:
        return pd.DataFrame(columns=cols[1:])
    s = stakes.assign(_end=date_end(stakes["as_of"].astype(str)), _row=pd.to_numeric(stakes.get("ref_row"), errors="coerce"))
    s = s.sort_values(["_end", "_row"], kind="stable").reset_index(drop=True)
    # the latest row as stated: a later round that leaves votes unknown is unknown (never carried over)
    latest = s.drop_duplicates(["investor_id", "investee_id"], keep="last").drop(columns=["_end", "_row"])
    t = stake_controls(latest, config)
    refs = latest.set_index(["investor_id", "investee_id"])[["ref_file", "ref_row"]] if "ref_file" in latest else None
    out = t.assign(screen="control." + t["jurisdiction"], value=t["votes_pct"], threshold=np.nan,
                   verdict=t["control_class"], as_of=t["as_of"].astype(str), subject_type="relationship",
                   subject_id=t["investor_id"] + "->" + t["investee_id"], entity_id=None, market_id=None, period=None)
    if refs is not None:
        out = out.join(refs, on=["investor_id", "investee_id"])
    else:
        out = out.assign(ref_file=None, ref_row=None)
    return out[cols[1:]].reset_index(drop=True)


# --------------------------------------------------------------------------- dominance and entrenchment
_SPAN_MONTHS = {"quarter": 3, "half": 6, "year": 12, "month": 1}


def period_span(periods: pd.Series) -> pd.DataFrame:
    """Month indices (year x 12 + month - 1) of each period's first and last month and its
    cadence (``quarter``, ``half``, ``year``, ``month``: :func:`riskmodels.freshness.cadence`, ends
    from :func:`riskmodels.dates.period_end`); a day label (a tracker's snapshot) or an unreadable
    one gives NaN: it covers no span of months, so it never makes or breaks a run of periods."""
    from .dates import period_end
    from .freshness import cadence

    kind = cadence(periods).where(lambda k: k.isin(list(_SPAN_MONTHS)))
    end = period_end(periods)
    last = (end.dt.year * 12 + end.dt.month - 1).astype(float).where(kind.notna())
    return pd.DataFrame({"kind": kind.astype(object), "first_month": last - kind.map(_SPAN_MONTHS).astype(float) + 1,
                         "last_month": last})


DOMINANCE_COLUMNS = ["market_id", "entity_id", "share_pct", "period", "first_period", "periods", "quarters",
                     "series_fresh", "durable", "verdict", "threshold_pct", "min_quarters", "source", "verified"]


def durable_dominance(shares: pd.DataFrame, conc: pd.DataFrame | None, config: dict, run_date=None) -> pd.DataFrame:
    """Firms at or above the dominance share in the latest period of a series, with how long they
    have been there (2023 Merger Guidelines, Guideline 6; the rule and the run length are in
    ``config/screens.yaml`` ``dominance``).

    ``shares``: market_id, period, entity_id, share_pct (percent); ``conc``: the run's
    concentration rows (market_id, period, period_end, fresh) or None (every series fresh). Per
    (series, firm) the run is the unbroken chain of periods of the latest period's cadence, each at
    or above the share, ending at the series' latest period (a gap or a period below the share
    ends it); ``quarters`` is its length in quarters (a year counts 4, a half 2, a month 1/3).
    ``durable`` needs ``min_quarters`` in a fresh series; a stale series' firms get the verdict
    "not assessed" (what it said last is history, not a finding). A share is one held: rows whose
    ``estimate_type`` is in ``dominance.exclude_estimate_types`` (forecasts) and periods ending
    after ``run_date`` are left out. Vectorised over all rows."""
    from .dates import period_end

    cfg = config["dominance"]
    op, bound = cfg["share_pct"]
    min_q = float(cfg["min_quarters"])
    keep = shares["share_pct"].notna() & shares["entity_id"].notna()
    if "estimate_type" in shares:
        keep &= ~shares["estimate_type"].isin(cfg.get("exclude_estimate_types") or [])
    if run_date is not None:
        keep &= (period_end(shares["period"]) <= pd.Timestamp(run_date)).to_numpy()
    s = shares.loc[keep, ["market_id", "period", "entity_id", "share_pct"]].copy()
    s["share_pct"] = pd.to_numeric(s["share_pct"], errors="coerce").astype(float)
    s = s.groupby(["market_id", "period", "entity_id"], as_index=False, sort=False)["share_pct"].sum()
    s = pd.concat([s.reset_index(drop=True), period_span(s["period"]).reset_index(drop=True)], axis=1)
    s = s[s["kind"].notna()]
    if s.empty:
        return pd.DataFrame(columns=DOMINANCE_COLUMNS)
    latest = s.sort_values(["market_id", "last_month", "first_month"]).groupby("market_id").tail(1)[
        ["market_id", "period", "kind", "last_month"]].rename(columns={"period": "latest_period", "kind": "latest_kind",
                                                                       "last_month": "latest_month"})
    s = s.merge(latest, on="market_id")
    s = s[s["kind"] == s["latest_kind"]].sort_values(["market_id", "entity_id", "first_month"], kind="stable")
    hit = _OPS[op](s["share_pct"].to_numpy(), float(bound))
    key = s["market_id"] + "\x00" + s["entity_id"]
    same = key.eq(key.shift()).to_numpy()
    follows = (s["first_month"].to_numpy() == s["last_month"].shift().to_numpy() + 1)
    prev_hit = np.r_[False, hit[:-1]]
    chained = hit & same & follows & prev_hit
    run = np.cumsum(~chained)
    s = s.assign(_run=run, _hit=hit)
    runs = s[s["_hit"]].groupby("_run").agg(market_id=("market_id", "first"), entity_id=("entity_id", "first"),
                                            first_period=("period", "first"), period=("period", "last"),
                                            periods=("period", "size"), first_month=("first_month", "first"),
                                            last_month=("last_month", "last"), share_pct=("share_pct", "last"),
                                            latest_month=("latest_month", "first"))
    now = runs[runs["last_month"] == runs["latest_month"]].reset_index(drop=True)
    if now.empty:
        return pd.DataFrame(columns=DOMINANCE_COLUMNS)
    now["quarters"] = (now["last_month"] - now["first_month"] + 1) / 3.0
    if conc is not None and "fresh" in conc:
        fresh = conc[["market_id", "period", "fresh"]].drop_duplicates(["market_id", "period"])
        now = now.merge(fresh, on=["market_id", "period"], how="left")
        now["series_fresh"] = now["fresh"].fillna(False).astype(bool)
    else:
        now["series_fresh"] = True
    now["durable"] = now["series_fresh"] & (now["quarters"] >= min_q)
    rule = f"{op} {bound:g}%"
    now["verdict"] = np.where(
        ~now["series_fresh"], "not assessed (stale series)",
        np.where(now["durable"], "durably dominant (share " + rule + " for " + now["quarters"].map("{:g}".format)
                 + " quarters)", "dominant share, not yet durable (" + now["quarters"].map("{:g}".format)
                 + " of " + f"{min_q:g} quarters)"))
    return now.assign(threshold_pct=float(bound), min_quarters=min_q, source=cfg["source"],
                      verified=cfg.get("verified", "unverified"))[DOMINANCE_COLUMNS]


def concept_dominance(concept_shares: pd.DataFrame, config: dict, run_date=None) -> pd.DataFrame:
    """:func:`durable_dominance` on the consensus of each analyst concept (``concept_firm_shares``):
    a concept's year buckets are its periods and the median share across its series in a bucket
    (percent) the firm's share; the concept is fresh when its latest bucket has a fresh series
    (``n_fresh`` > 0). The ``latest`` bucket (a mix of periods) is no period. Same columns, with
    ``market_id`` the concept id; a concept with one series is that analyst's series again."""
    if concept_shares is None or concept_shares.empty:
        return pd.DataFrame(columns=DOMINANCE_COLUMNS)
    c = concept_shares[concept_shares["bucket"].ne("latest") & concept_shares["share_median"].notna()]
    shares = pd.DataFrame({"market_id": c["concept_id"], "period": c["bucket"], "entity_id": c["entity_id"],
                           "share_pct": c["share_median"]})
    fresh = c.assign(_f=pd.to_numeric(c["n_fresh"], errors="coerce").fillna(0) > 0).groupby(
        ["concept_id", "bucket"], as_index=False)["_f"].any().rename(
        columns={"concept_id": "market_id", "bucket": "period", "_f": "fresh"})
    return durable_dominance(shares, fresh, config, run_date)


ENTRENCHMENT_COLUMNS = ["investor_id", "investee_id", "link", "dominant_id", "counterparty_id", "market_id",
                        "reason", "date", "ref_file", "ref_row", "source", "verified"]


def entrenchment(dominance: pd.DataFrame, shares: pd.DataFrame, investments: pd.DataFrame,
                 commitments: pd.DataFrame, group: dict[str, str], config: dict) -> pd.DataFrame:
    """Stakes and compute commitments that may entrench a durably dominant firm (2023 Merger
    Guidelines, Guideline 6): the firm's group takes a stake in, or signs a compute commitment
    with, (a) a fast-growing rival - a firm of the same series whose share rose by at least
    ``entrenchment.fast_growing_rival.min_gain_points`` over the last
    ``entrenchment.fast_growing_rival.months`` months - or (b) a supplier of its rivals - a firm
    that sells compute to another firm of that series (``commitment_facts``). One row per link
    (investment or commitment row) x market x reason; firms are compared by ownership group."""
    dom = dominance[dominance["durable"]] if len(dominance) else dominance
    if dom.empty:
        return pd.DataFrame(columns=ENTRENCHMENT_COLUMNS)
    cfg = config["entrenchment"]
    fg = cfg["fast_growing_rival"]
    g = lambda ids: ids.map(group).fillna(ids)  # noqa: E731 - entity -> ownership group
    dom = dom.assign(dominant_group=g(dom["entity_id"]))
    # rivals: the series' other firms in its latest period
    s = shares.loc[shares["share_pct"].notna() & shares["entity_id"].notna(),
                   ["market_id", "period", "entity_id", "share_pct"]].copy()
    s["share_pct"] = pd.to_numeric(s["share_pct"], errors="coerce").astype(float)
    s = pd.concat([s.reset_index(drop=True), period_span(s["period"]).reset_index(drop=True)], axis=1)
    s = s[s["market_id"].isin(dom["market_id"]) & s["kind"].notna()]
    s["group"] = g(s["entity_id"])
    last = s.groupby("market_id")["last_month"].transform("max")
    cur = s[s["last_month"] == last]
    ago = s[s["last_month"] == last - int(fg["months"])][["market_id", "entity_id", "share_pct"]]
    growth = cur.merge(ago, on=["market_id", "entity_id"], how="left", suffixes=("", "_before"))
    growth["gain"] = growth["share_pct"] - growth["share_pct_before"]
    rivals = dom[["market_id", "dominant_group", "entity_id"]].rename(columns={"entity_id": "dominant_id"}).merge(
        growth[["market_id", "group", "gain"]], on="market_id")
    rivals = rivals[rivals["group"] != rivals["dominant_group"]]
    fast = rivals[rivals["gain"] >= float(fg["min_gain_points"])]
    com = commitments.assign(_b=g(commitments["buyer_id"]), _s=g(commitments["supplier_id"]))
    suppliers = rivals.merge(com[["_b", "_s"]].drop_duplicates(), left_on="group", right_on="_b")[
        ["market_id", "dominant_group", "dominant_id", "_s"]].rename(columns={"_s": "group"})
    suppliers = suppliers[suppliers["group"] != suppliers["dominant_group"]].drop_duplicates()
    targets = pd.concat([
        fast[["market_id", "dominant_group", "dominant_id", "group"]].assign(
            reason=f"fast-growing rival (share up {fg['min_gain_points']:g}+ points in {fg['months']:g} months)"),
        suppliers.assign(reason="supplier of its rivals (sells compute to another firm of the series)")],
        ignore_index=True).drop_duplicates()
    links = pd.concat([
        investments.assign(link="stake or investment", _from=investments["investor_id"], _to=investments["investee_id"],
                           _a=g(investments["investor_id"]), _c=g(investments["investee_id"]))[
            ["link", "_from", "_to", "_a", "_c", "date", "ref_file", "ref_row", "source"]],
        # a commitment counts whichever side the dominant firm is on
        com.assign(link="compute commitment", _from=com["buyer_id"], _to=com["supplier_id"], _a=com["_b"], _c=com["_s"])[
            ["link", "_from", "_to", "_a", "_c", "date", "ref_file", "ref_row", "source"]],
        com.assign(link="compute commitment", _from=com["buyer_id"], _to=com["supplier_id"], _a=com["_s"], _c=com["_b"])[
            ["link", "_from", "_to", "_a", "_c", "date", "ref_file", "ref_row", "source"]],
    ], ignore_index=True)
    hit = links.merge(targets, left_on=["_a", "_c"], right_on=["dominant_group", "group"])
    if hit.empty:
        return pd.DataFrame(columns=ENTRENCHMENT_COLUMNS)
    out = hit.rename(columns={"_from": "investor_id", "_to": "investee_id", "_c": "counterparty_id"}).assign(
        verified=cfg.get("verified", "unverified"), source=hit["source"].astype(str) + " | rule: " + cfg["source"])
    return out[ENTRENCHMENT_COLUMNS].drop_duplicates().reset_index(drop=True)


def daily_screens(frames: dict, conc: pd.DataFrame | None, group: dict[str, str], config: dict,
                  run_date=None, partial_markets=(), links: pd.DataFrame | None = None,
                  concept_shares: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every ``screens`` row of one run from its point-in-time frames: control per stake and
    jurisdiction (:func:`daily_control_screens`), durable dominance per (series, firm) at the
    dominance share (:func:`durable_dominance`; ``value`` quarters at it, ``threshold`` the
    quarters needed), the same per concept consensus with ``concept_shares``
    (:func:`concept_dominance`, screen ``durable_dominance_concept``) and entrenchment per flagged relationship (:func:`entrenchment`; ``value``
    the number of series, the verdict names each series and reason) and the EU non-horizontal
    safe harbour per relationship (:func:`eu_safe_harbour`; ``value`` the largest combined share
    in a market concerned, ``threshold`` the share bound) and, with the run date's ownership
    ``links``, MGUPPI per stake relationship (:func:`unilateral_screens`; ``value`` the MGUPPI as
    a fraction of price where a cited margin exists, else empty with the sensitivity range in the
    verdict; ``threshold`` the first configured threshold; the series where it is highest)."""
    parts = [daily_control_screens(frames["stake_rights"], config)] if "stake_rights" in frames else []
    shares = frames["market_shares"]
    dom = durable_dominance(shares, conc, config, run_date)
    if len(dom):
        parts.append(pd.DataFrame({
            "subject_type": "firm", "subject_id": dom["entity_id"] + "@" + dom["market_id"],
            "screen": "durable_dominance", "investor_id": None, "investee_id": None, "entity_id": dom["entity_id"],
            "market_id": dom["market_id"], "period": dom["period"], "as_of": None,
            "stake_pct": np.nan, "votes_pct": np.nan, "voting": None, "rights": None, "value": dom["quarters"],
            "threshold": dom["min_quarters"], "verdict": dom["verdict"] + " at " + dom["share_pct"].map("{:g}".format)
            + "% in " + dom["period"] + ", at the share since " + dom["first_period"], "regime": None, "verified": dom["verified"], "source": dom["source"],
            "ref_file": "market_shares.csv", "ref_row": None}))
    cdom = concept_dominance(concept_shares, config, run_date)
    if len(cdom):   # the same test on each concept's consensus (median share across its series)
        parts.append(pd.DataFrame({
            "subject_type": "firm", "subject_id": cdom["entity_id"] + "@" + cdom["market_id"],
            "screen": "durable_dominance_concept", "investor_id": None, "investee_id": None,
            "entity_id": cdom["entity_id"], "market_id": cdom["market_id"], "period": cdom["period"], "as_of": None,
            "stake_pct": np.nan, "votes_pct": np.nan, "voting": None, "rights": None, "value": cdom["quarters"],
            "threshold": cdom["min_quarters"], "verdict": cdom["verdict"] + " at a median " + cdom["share_pct"].map(
                "{:g}".format) + "% across the concept's series in " + cdom["period"] + ", at the share since "
            + cdom["first_period"], "regime": None, "verified": cdom["verified"], "source": cdom["source"],
            "ref_file": "concept_firm_shares", "ref_row": None}))
    ent = entrenchment(dom, shares, frames["investments"], frames["compute_commitments"], group, config)
    if len(ent):
        ent = ent.assign(_what=ent["dominant_id"] + " durably dominant in " + ent["market_id"] + ": "
                         + ent["counterparty_id"] + " is a " + ent["reason"])
        g = ent.sort_values(["investor_id", "investee_id", "market_id"]).groupby(["investor_id", "investee_id"],
                                                                                   as_index=False)
        agg = g.agg(value=("market_id", "nunique"), verdict=("_what", lambda x: "; ".join(dict.fromkeys(x))),
                    as_of=("date", "max"), source=("source", "first"), verified=("verified", "first"),
                    ref_file=("ref_file", "first"), ref_row=("ref_row", "first"))
        parts.append(agg.assign(subject_type="relationship", subject_id=agg["investor_id"] + "->" + agg["investee_id"],
                                screen="entrenchment", entity_id=None, market_id=None, period=None, stake_pct=np.nan,
                                votes_pct=np.nan, voting=None, rights=None, threshold=np.nan, regime=None,
                                verdict="flag: " + agg["verdict"], as_of=agg["as_of"].astype(str)))
    if conc is not None and "vertical" in config:
        eu = eu_safe_harbour(relationship_pairs(frames), shares, conc, group, config, partial_markets)
        if len(eu):
            parts.append(eu.assign(subject_type="relationship", subject_id=eu["investor_id"] + "->" + eu["investee_id"],
                                   screen="eu_non_horizontal", entity_id=None, market_id=eu["worst"], period=None,
                                   as_of=None, stake_pct=np.nan, votes_pct=np.nan, voting=None, rights=None,
                                   value=eu["max_share_pct"],
                                   threshold=float(config["vertical"]["eu_safe_harbour"]["share_pct"][1]),
                                   regime=None, ref_file=None, ref_row=None))
    if conc is not None and "vertical" in config:
        fc = input_foreclosure_screens(frames, shares, conc, group, config, frames.get("segment_margins"),
                                       partial_markets, links=links)
        if len(fc):
            parts.append(pd.DataFrame({
                "subject_type": "relationship", "subject_id": fc["investor_id"] + "->" + fc["investee_id"],
                "screen": "critical_recapture", "investor_id": fc["investor_id"], "investee_id": fc["investee_id"],
                "entity_id": fc["rival_id"], "market_id": fc["market_id"], "period": fc["period"], "as_of": None,
                "stake_pct": np.nan, "votes_pct": np.nan, "voting": None, "rights": None, "value": fc["actual"],
                "threshold": fc["critical"], "verdict": fc["verdict"], "regime": None,
                "verified": (config["vertical"].get("critical_recapture") or {}).get("verified", "unverified"),
                "source": fc["source"], "ref_file": None, "ref_row": None}))
        dh = effective_dhhi_rows(fc, config)
        if len(dh):
            parts.append(pd.DataFrame({
                "subject_type": "relationship", "subject_id": dh["investor_id"] + "->" + dh["investee_id"],
                "screen": "effective_dhhi", "investor_id": dh["investor_id"], "investee_id": dh["investee_id"],
                "entity_id": dh["rival_id"], "market_id": dh["market_id"], "period": dh["period"], "as_of": None,
                "stake_pct": np.nan, "votes_pct": np.nan, "voting": None, "rights": None,
                "value": np.where(dh["kappa"].isna(), np.nan, dh["dhhi"]), "threshold": _delta_threshold(config),
                "verdict": dh["verdict"], "regime": None, "verified": dh["verified"], "source": dh["source"],
                "ref_file": None, "ref_row": None}))
    if conc is not None and links is not None and "unilateral" in config:
        u = unilateral_screens(links, shares, conc, group, config, frames.get("segment_margins"), partial_markets)
        if len(u):
            thresholds = config["unilateral"]["guppi_thresholds"]
            u = u.assign(verdict=_guppi_verdicts(u, thresholds),
                         _at=u["mguppi"].fillna(u["high"]).fillna(-1.0)).sort_values(
                ["investor_id", "investee_id", "_at"], ascending=[True, True, False], kind="stable")
            n = u.groupby(["investor_id", "investee_id"])["market_id"].transform("size")
            u = u.assign(verdict=u["verdict"] + np.where(n > 1, " (the highest of " + n.astype(str)
                                                         + " series where both sell)", ""))
            w = u.drop_duplicates(["investor_id", "investee_id"])
            parts.append(pd.DataFrame({
                "subject_type": "relationship", "subject_id": w["investor_id"] + "->" + w["investee_id"],
                "screen": "mguppi", "investor_id": w["investor_id"], "investee_id": w["investee_id"],
                "entity_id": None, "market_id": w["market_id"], "period": w["period"], "as_of": None,
                "stake_pct": np.nan, "votes_pct": np.nan, "voting": None, "rights": None, "value": w["mguppi"],
                "threshold": float(thresholds[0]["value"]), "verdict": "MGUPPI " + w["verdict"],
                "regime": config["unilateral"].get("kappa_regime", "rights"),
                "verified": "; ".join(dict.fromkeys(t.get("verified", "unverified") for t in thresholds)),
                "source": "margin: " + w["margin_source"].fillna("none") + "; thresholds: "
                          + "; ".join(t["source"] for t in thresholds),
                "ref_file": None, "ref_row": None}))
        if "coordinated" in config:
            parts.append(coordinated_rows(u, conc, config))
    if not parts:
        return pd.DataFrame(columns=SCREEN_COLUMNS)
    out = pd.concat([p[SCREEN_COLUMNS] for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=SCREEN_COLUMNS)
    out["ref_row"] = pd.to_numeric(out["ref_row"], errors="coerce").astype("Int64")
    return out


# --------------------------------------------------------------------------- vertical arithmetic
def relationship_pairs(frames: dict) -> pd.DataFrame:
    """Distinct (investor_id, investee_id) pairs of the stakes, investments and compute
    commitments (buyer -> supplier) known by the run."""
    parts = []
    for name, a, b in (("stake_rights", "investor_id", "investee_id"), ("investments", "investor_id", "investee_id"),
                       ("compute_commitments", "buyer_id", "supplier_id")):
        if name in frames and len(frames[name]):
            parts.append(frames[name][[a, b]].set_axis(["investor_id", "investee_id"], axis=1))
    if not parts:
        return pd.DataFrame(columns=["investor_id", "investee_id"])
    p = pd.concat(parts, ignore_index=True).dropna().drop_duplicates()
    return p[p["investor_id"] != p["investee_id"]].reset_index(drop=True)


def eu_safe_harbour(pairs: pd.DataFrame, shares: pd.DataFrame, conc: pd.DataFrame, group: dict[str, str],
                    config: dict, partial_markets=()) -> pd.DataFrame:
    """The EU non-horizontal safe harbour per relationship (``vertical.eu_safe_harbour``): in each
    market concerned - each series whose latest period is fresh and where either party's group
    has a share - the parties' combined share (percent) and the series' HHI (points) must be below
    the bounds. A reporting firms' sum (``partial_markets``) is not a market. Returns one row per
    pair with a concerned series: ``markets`` (how many), ``max_share_pct``, ``worst`` (the series
    that fails first, or the largest share), ``inside`` (bool), ``verdict``."""
    cfg = config["vertical"]["eu_safe_harbour"]
    (sop, sb), (hop, hb) = cfg["share_pct"], cfg["hhi"]
    cols = ["investor_id", "investee_id", "markets", "max_share_pct", "worst", "worst_hhi", "inside", "verdict",
            "source", "verified"]
    s = fresh_latest_shares(shares, conc, group, config, partial_markets)
    if s.empty or pairs.empty:
        return pd.DataFrame(columns=cols)
    per = s.groupby(["market_id", "group"], as_index=False).agg(share_pct=("share_pct", "sum"), hhi=("hhi", "first"))
    p = pairs.assign(_a=pairs["investor_id"].map(group).fillna(pairs["investor_id"]),
                     _b=pairs["investee_id"].map(group).fillna(pairs["investee_id"]))
    p = p[p["_a"] != p["_b"]]
    both = pd.concat([p.merge(per, left_on="_a", right_on="group"), p.merge(per, left_on="_b", right_on="group")],
                     ignore_index=True)
    if both.empty:
        return pd.DataFrame(columns=cols)
    m = both.groupby(["investor_id", "investee_id", "market_id"], as_index=False).agg(
        share_pct=("share_pct", "sum"), hhi=("hhi", "first"))   # both parties in one series: the merged share
    m["ok"] = _OPS[sop](m["share_pct"].to_numpy(), float(sb)) & _OPS[hop](m["hhi"].to_numpy(), float(hb))
    m = m.sort_values(["investor_id", "investee_id", "ok", "share_pct"], ascending=[True, True, True, False])
    worst = m.groupby(["investor_id", "investee_id"], as_index=False).first()
    agg = m.groupby(["investor_id", "investee_id"], as_index=False).agg(
        markets=("market_id", "size"), max_share_pct=("share_pct", "max"), inside=("ok", "all"))
    out = agg.merge(worst[["investor_id", "investee_id", "market_id", "share_pct", "hhi"]],
                    on=["investor_id", "investee_id"]).rename(columns={"market_id": "worst", "hhi": "worst_hhi"})
    detail = (out["worst"] + ": share " + out["share_pct"].map("{:.3g}".format) + "%, HHI "
              + out["worst_hhi"].map("{:,.0f}".format))
    out["verdict"] = np.where(out["inside"], "inside the safe harbour in all " + out["markets"].astype(str)
                              + " market(s) concerned (largest: " + detail + ")",
                              "outside the safe harbour (" + detail + ")")
    return out.assign(source=cfg["source"], verified=cfg.get("verified", "unverified"))[cols]


def input_foreclosure_screens(frames: dict, shares: pd.DataFrame, conc: pd.DataFrame, group: dict[str, str],
                              config: dict, margins: pd.DataFrame | None = None, partial_markets=(),
                              links: pd.DataFrame | None = None) -> pd.DataFrame:
    """Critical against actual recapture per equity relationship that links a supplier to a
    downstream firm whose rivals buy from that supplier (accelerator or cloud -> model builder).

    For an investor U (group a) in a firm D, each rival R (not in D's or U's group) with a compute
    commitment from a supplier in group a, and each fresh series of the downstream layers
    (``vertical.critical_recapture.downstream_layers``) where D and R both sell: the
    share-proportional actual recapture s_D / (1 - s_R) (fraction; :func:`share_recapture`) and
    the critical recapture r* = m_U w / (m_D P_D) (:func:`critical_recapture`, Moresi and Salop
    2013) when U's and D's margins are cited (:func:`cited_margins`) and the input-to-downstream
    price ratio w / P_D is configured (``vertical.critical_recapture.price_ratio``, labelled);
    otherwise r* is not computable and the row says which input is missing. One row per
    relationship: the rival and series with the highest actual recapture. Columns: investor_id,
    investee_id, rival_id, market_id, period, actual, critical, rivals, verdict, source, and for
    the effective ΔHHI (:func:`effective_dhhi_rows`) share_down_pct, share_rival_pct, hhi (the
    series' HHI, points) and stake (the investor group's effective cash-flow share of the investee
    in the MHHI engine from the run date's ``links``, fraction; NaN when no stake % is known)."""
    cols = ["investor_id", "investee_id", "rival_id", "market_id", "period", "actual", "critical", "rivals",
            "verdict", "source", "share_down_pct", "share_rival_pct", "hhi", "stake"]
    cfg = (config.get("vertical") or {}).get("critical_recapture") or {}
    eq = [frames[n][["investor_id", "investee_id"]] for n in ("stake_rights", "investments")
          if n in frames and len(frames[n])]
    com = frames.get("compute_commitments")
    if not eq or com is None or com.empty or conc is None:
        return pd.DataFrame(columns=cols)
    g = lambda x: x.map(group).fillna(x)  # noqa: E731
    pairs = pd.concat(eq, ignore_index=True).dropna().drop_duplicates()
    pairs = pairs.assign(a=g(pairs["investor_id"]), d=g(pairs["investee_id"]))
    pairs = pairs[pairs["a"] != pairs["d"]]
    buyers = com[["buyer_id", "supplier_id"]].dropna().assign(a=lambda x: g(x["supplier_id"]), r=lambda x: g(x["buyer_id"]))
    trip = pairs.merge(buyers[["a", "r", "supplier_id"]].drop_duplicates(["a", "r"]), on="a")
    trip = trip[(trip["r"] != trip["d"]) & (trip["r"] != trip["a"])]
    layers = cfg.get("downstream_layers")
    c = conc[conc["layer"].isin(layers)] if layers and "layer" in conc else conc
    s = fresh_latest_shares(shares, c, group, config, partial_markets)
    per = s.groupby(["market_id", "period", "group"], as_index=False).agg(share_pct=("share_pct", "sum"))
    hhi = s.drop_duplicates(["market_id", "period"])[["market_id", "period", "hhi"]]
    m = trip.merge(per.rename(columns={"group": "d", "share_pct": "s_d"}), on="d").merge(
        per.rename(columns={"group": "r", "share_pct": "s_r"}), on=["market_id", "period", "r"]).merge(
        hhi, on=["market_id", "period"], how="left")
    if m.empty:
        return pd.DataFrame(columns=cols)
    sd, sr = m["s_d"].to_numpy(float), m["s_r"].to_numpy(float)
    m = m.assign(actual=np.divide(sd, 100.0 - sr, out=np.full_like(sd, np.nan), where=sr < 100))
    m = m.assign(rivals=m.groupby(["investor_id", "investee_id"])["r"].transform("nunique"))
    m = m.sort_values(["investor_id", "investee_id", "actual"], ascending=[True, True, False], kind="stable")
    w = m.drop_duplicates(["investor_id", "investee_id"]).reset_index(drop=True)
    cm = cited_margins(margins, config).drop_duplicates("entity_id").set_index("entity_id")
    mu = w["supplier_id"].map(cm["margin"]).fillna(w["a"].map(cm["margin"]))
    md = w["investee_id"].map(cm["margin"]).fillna(w["d"].map(cm["margin"]))
    ratio = cfg.get("price_ratio")
    ok = mu.between(0, 1) & md.gt(0) & md.le(1) & (ratio is not None)
    crit = np.where(ok, mu.fillna(0) * float(ratio or 0) / md.where(md > 0, 1.0), np.nan)
    missing = (pd.Series(np.where(mu.between(0, 1), "", "supplier margin m_U; ")) + np.where(
        md.gt(0) & md.le(1), "", "downstream margin m_D; ") + ("" if ratio is not None else "price ratio w/P_D")
               ).str.rstrip("; ").str.replace("; ", ", ")
    head = ("if " + w["investor_id"] + " foreclosed " + w["r"] + " (buyer from " + w["supplier_id"] + "), "
            + w["investee_id"] + " would recapture " + (100 * w["actual"]).map("{:.1f}%".format) + " of its sales in "
            + w["market_id"] + " " + w["period"] + " (share-proportional)")
    verdict = np.where(ok, head + np.where(w["actual"].to_numpy() > crit, ": above the critical recapture "
                                           + pd.Series(100 * crit).map("{:.1f}%".format) + " (foreclosure would pay)",
                                           ": below the critical recapture " + pd.Series(100 * crit).map("{:.1f}%".format)),
                       head + "; critical recapture not computable: no cited " + missing)
    verdict = verdict + np.where(w["rivals"] > 1, " (the highest of " + w["rivals"].astype(str) + " rivals)", "")
    return pd.DataFrame({"investor_id": w["investor_id"], "investee_id": w["investee_id"], "rival_id": w["r"],
                         "market_id": w["market_id"], "period": w["period"], "actual": w["actual"], "critical": crit,
                         "rivals": w["rivals"], "verdict": verdict,
                         "source": cfg.get("source", "Moresi and Salop (2013), vGUPPI: critical recapture m_U w / (m_D P_D)"),
                         "share_down_pct": w["s_d"], "share_rival_pct": w["s_r"],
                         "hhi": pd.to_numeric(w["hhi"], errors="coerce"),
                         "stake": _group_stakes(links, w["a"], w["d"], group)})[cols]


def effective_dhhi_rows(fc: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Effective ΔHHI of each :func:`input_foreclosure_screens` row (points; :func:`effective_dhhi`,
    vectorised): kappa_RD = stake x pass_through x supply_share, dHHI = kappa_RD s_R s_D, and
    post = series HHI + dHHI screened against ``vertical.effective_dhhi.guideline``
    (config/guidelines.yaml). ``pass_through`` and ``supply_share`` come from config only with a
    source; unset, each is taken at its ceiling 1, so the value is an upper bound and the verdict
    says so. No stake % known: no value, the verdict gives the full-integration ceiling s_R s_D.
    Columns: investor_id, investee_id, rival_id, market_id, period, kappa, dhhi, post_hhi,
    ceiling, verdict, source, verified."""
    from .concentration import _guidelines

    cfg = (config.get("vertical") or {}).get("effective_dhhi") or {}
    cols = ["investor_id", "investee_id", "rival_id", "market_id", "period", "kappa", "dhhi", "post_hhi", "ceiling",
            "verdict", "source", "verified"]
    if fc.empty or not cfg:
        return pd.DataFrame(columns=cols)
    factors = {k: cfg.get(k) for k in ("pass_through", "supply_share")}
    rho, phi = (float(v["value"]) if isinstance(v, dict) else 1.0 for v in factors.values())
    bound = [k for k, v in factors.items() if not isinstance(v, dict)]
    sd, sr = fc["share_down_pct"].to_numpy(float), fc["share_rival_pct"].to_numpy(float)
    stake = fc["stake"].to_numpy(float)
    kappa = np.clip(stake, 0.0, 1.0) * rho * phi
    dhhi = kappa * sr * sd
    ceiling = sr * sd
    post = fc["hhi"].to_numpy(float) + dhhi
    g = _guidelines()[cfg.get("guideline", "us-2023")]
    presumed = np.zeros(len(fc), dtype=bool)
    for rule in g["presumption"]["any"]:
        if "share" in rule:                       # a merged-share test has no meaning for a vertical link
            continue
        hold = np.ones(len(fc), dtype=bool)
        for key, v in (("hhi", post), ("delta", dhhi)):
            if key not in rule:
                continue
            for op, b in (rule[key] if isinstance(rule[key][0], list) else [rule[key]]):
                hold &= _OPS[op](v, b)
        presumed |= hold
    fmt = lambda a: pd.Series(a).map("{:,.0f}".format)  # noqa: E731
    what = ("ΔHHI " + fmt(dhhi) + " in " + fc["market_id"].reset_index(drop=True) + " " + fc["period"].reset_index(drop=True)
            + " (kappa " + pd.Series(kappa).map("{:.3f}".format) + " on the rival " + fc["rival_id"].reset_index(drop=True)
            + "), post HHI " + fmt(post))
    gname = cfg.get("guideline", "us-2023")
    if bound:   # an upper bound can clear a presumption, never meet one
        at = np.where(presumed, ": at this bound above the " + gname + " presumption (the true value may be below it)",
                      ": below the " + gname + " presumption even at this bound")
        at = pd.Series(at) + " - an upper bound: " + " and ".join(bound) + " taken at 1 (no cited value)"
    else:
        at = pd.Series(np.where(presumed, ": above the " + gname + " presumption", ": below the " + gname + " presumption"))
    verdict = np.where(np.isnan(stake),
                       "not computable: no stake % known; at full integration at most ΔHHI " + fmt(ceiling)
                       + " in " + fc["market_id"].reset_index(drop=True),
                       what + at)
    src = cfg.get("source", "derived from Moresi and Salop (2021)") + "; thresholds: " + g["source"]
    src += "".join("; " + k + ": " + str(v.get("source")) for k, v in factors.items() if isinstance(v, dict))
    return pd.DataFrame({"investor_id": fc["investor_id"].to_numpy(), "investee_id": fc["investee_id"].to_numpy(),
                         "rival_id": fc["rival_id"].to_numpy(), "market_id": fc["market_id"].to_numpy(),
                         "period": fc["period"].to_numpy(), "kappa": np.where(np.isnan(stake), np.nan, kappa),
                         "dhhi": dhhi, "post_hhi": post, "ceiling": ceiling, "verdict": verdict, "source": src,
                         "verified": cfg.get("verified", "unverified")})[cols]


def _delta_threshold(config: dict) -> float:
    """The ΔHHI bound of the effective-ΔHHI guideline's first HHI-and-delta presumption (points)."""
    from .concentration import _guidelines

    g = _guidelines()[((config.get("vertical") or {}).get("effective_dhhi") or {}).get("guideline", "us-2023")]
    rule = next((r for r in g["presumption"]["any"] if "delta" in r and "share" not in r), None)
    return float(rule["delta"][1]) if rule and not isinstance(rule["delta"][0], list) else np.nan


def _group_stakes(links: pd.DataFrame | None, owners: pd.Series, firms: pd.Series, group: dict[str, str]) -> np.ndarray:
    """Effective cash-flow share (fraction) each owner group holds of each firm group, through
    chains (the MHHI engine's B_eff, riskmodels.ownership.Matrices); NaN where the group holds no
    included link with a known stake % in that firm (an undisclosed stake is unknown, not 0)."""
    from .ownership import RESIDUAL, Matrices, _at

    out = np.full(len(owners), np.nan)
    if links is None or not len(links) or not len(owners):
        return out
    inc = links[links["status"] == "included"]
    mats = Matrices(links, sorted(set(firms)), group)
    own = pd.Series(mats.owners)
    listed = ~own.str.startswith(RESIDUAL)
    og = own.map(group).fillna(own)
    # owner groups x nodes: summed rows of the owners in each group (listed owners only)
    ug = sorted(set(og[listed]))
    gi = {g: i for i, g in enumerate(ug)}
    rows = og[listed].map(gi).to_numpy()
    agg = _sum_rows(mats.beta[np.flatnonzero(listed.to_numpy())], rows, len(ug))
    oi = owners.map(gi).fillna(-1).astype(int).to_numpy()
    ni = firms.map(mats.node_index).fillna(-1).astype(int).to_numpy()
    ok = (oi >= 0) & (ni >= 0)
    vals = np.zeros(len(owners))
    vals[ok] = _at(agg, oi[ok], ni[ok])
    # an investor that is itself a firm node (Microsoft, held by its own shareholders) holds its
    # stakes as firm-to-firm links: its effective share is the chain X = (I - C)^-1 off the diagonal
    na = owners.map(mats.node_index).fillna(-1).astype(int).to_numpy()
    as_node = (na >= 0) & (ni >= 0) & (na != ni)
    vals[as_node] = _at(mats.X_beta, na[as_node], ni[as_node])
    ok |= as_node
    # a pair with no included link between the groups (directly) is unknown unless a chain gives it
    direct = pd.MultiIndex.from_arrays([inc["owner_id"].map(group).fillna(inc["owner_id"]),
                                        inc["firm_id"].map(group).fillna(inc["firm_id"])])
    known = pd.MultiIndex.from_arrays([owners, firms]).isin(direct) | (vals > 0)
    return np.where(ok & known, vals, out)


def _sum_rows(m, rows: np.ndarray, n: int):
    """Sum the rows of sparse ``m`` by the group index ``rows`` (length m.shape[0]) -> n rows, CSR."""
    import scipy.sparse as sp

    g = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(n, len(rows)))
    return (g @ m).tocsr()


def fresh_latest_shares(shares: pd.DataFrame, conc: pd.DataFrame, group: dict[str, str], config: dict,
                        partial_markets=()) -> pd.DataFrame:
    """Share rows (percent) of each series' latest period when it is fresh, with the series' HHI
    and each row's ``group``; forecasts (``dominance.exclude_estimate_types``) and reporting
    firms' sums (``partial_markets``) are no markets held."""
    c = conc[~conc["market_id"].isin(list(partial_markets))]
    keep = shares["share_pct"].notna() & shares["entity_id"].notna()
    if "estimate_type" in shares:
        keep &= ~shares["estimate_type"].isin(config.get("dominance", {}).get("exclude_estimate_types") or [])
    held = shares.loc[keep, ["market_id", "period"]].drop_duplicates()
    c = c.merge(held, on=["market_id", "period"])
    if "period_end" in c:
        c = c.sort_values(["market_id", "period_end"], kind="stable")
    latest = c.groupby("market_id").tail(1)
    if "fresh" in latest:
        latest = latest[latest["fresh"].astype(bool)]
    s = shares[keep].merge(latest[["market_id", "period", "hhi"]], on=["market_id", "period"])
    return s.assign(group=s["entity_id"].map(group).fillna(s["entity_id"]),
                    share_pct=pd.to_numeric(s["share_pct"], errors="coerce").astype(float))


def cited_margins(filed: pd.DataFrame | None, config: dict) -> pd.DataFrame:
    """Margins (fraction of price) per entity from cited sources only: the filings'
    (:func:`riskmodels.sources.sec.model.segment_margins`, label ``filing``) first, then
    ``unilateral.margins`` of config (each labelled, e.g. ``assumption``, with its source)."""
    cols = ["entity_id", "margin", "source", "label"]
    parts = [filed[cols]] if filed is not None and len(filed) else []
    rows = (config.get("unilateral") or {}).get("margins") or []
    if rows:
        parts.append(pd.DataFrame(rows).reindex(columns=cols))
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True).drop_duplicates("entity_id")


def unilateral_screens(links: pd.DataFrame, shares: pd.DataFrame, conc: pd.DataFrame, group: dict[str, str],
                       config: dict, margins: pd.DataFrame | None = None, partial_markets=()) -> pd.DataFrame:
    """Ownership-weighted GUPPI per stake relationship in every fresh series where both groups sell.

    For each included stake link (owner -> firm; ownership.links_as_of as of the run date), with
    a = the owner's group and b = the firm's: kappa_ab = K_ab / K_aa from the MHHI engine's
    profit weights under ``unilateral.kappa_regime`` (O'Brien and Salop 2000), the diversion
    D_ab = s_b / (1 - s_a) from the series' shares and b's margin from a cited source
    (:func:`cited_margins`): MGUPPI_a = kappa_ab x D_ab x m_b (prices taken equal; Farrell and
    Shapiro 2010). Without a cited margin, the ``margin_sensitivity`` range gives low and high
    values, never a point. One row per relationship and series: investor_id, investee_id,
    market_id, period, kappa, share_self_pct, share_other_pct, diversion, margin,
    margin_source, mguppi (NaN without a margin), low, high. Vectorised over pairs x series."""
    from .ownership import Matrices, _at

    cols = ["investor_id", "investee_id", "market_id", "period", "kappa", "share_self_pct", "share_other_pct",
            "diversion", "margin", "margin_source", "mguppi", "low", "high"]
    uni = config["unilateral"]
    inc = links[(links["status"] == "included") & (links["kind"] == "stake")] if len(links) else links
    if inc.empty or conc is None:
        return pd.DataFrame(columns=cols)
    s = fresh_latest_shares(shares, conc, group, config, partial_markets)
    per = s.sort_values("share_pct", ascending=False).groupby(["market_id", "period", "group"], as_index=False).agg(
        share_pct=("share_pct", "sum"), entity_id=("entity_id", "first"))   # the group's largest seller names it
    p = inc[["owner_id", "firm_id"]].drop_duplicates().assign(
        a=lambda d: d["owner_id"].map(group).fillna(d["owner_id"]), b=lambda d: d["firm_id"].map(group).fillna(d["firm_id"]))
    p = p[p["a"] != p["b"]]
    m = p.merge(per.rename(columns={"group": "a", "share_pct": "share_self_pct", "entity_id": "_ea"}), on="a").merge(
        per.rename(columns={"group": "b", "share_pct": "share_other_pct", "entity_id": "_eb"}),
        on=["market_id", "period", "b"])
    if m.empty:
        return pd.DataFrame(columns=cols)
    mats = Matrices(links, sorted(set(per["group"])), group)
    K = mats.K[uni.get("kappa_regime", "rights")]
    ia, ib = (m[c].map(mats.node_index).fillna(-1).astype(int).to_numpy() for c in ("a", "b"))
    kaa, kab = _at(K, ia, ia), _at(K, ia, ib)
    kappa = np.clip(np.divide(kab, kaa, out=np.zeros_like(kab), where=kaa > 0), 0.0, 1.0)
    sa, sb = m["share_self_pct"].to_numpy(float), m["share_other_pct"].to_numpy(float)
    div = np.divide(sb, 100.0 - sa, out=np.full_like(sb, np.nan), where=sa < 100)
    cm = cited_margins(margins, config)
    mg = m[["_eb", "b"]].merge(cm.rename(columns={"entity_id": "_eb"}), on="_eb", how="left")
    by_group = m[["b"]].merge(cm.rename(columns={"entity_id": "b"}), on="b", how="left")
    margin = mg["margin"].fillna(by_group["margin"]).to_numpy(float)
    source = mg["source"].fillna(by_group["source"])
    usable = (margin >= 0) & (margin <= 1)
    sens = uni.get("margin_sensitivity") or {}
    lo_m, hi_m = sens.get("range", [np.nan, np.nan])
    base = kappa * div
    out = pd.DataFrame({
        "investor_id": m["owner_id"], "investee_id": m["firm_id"], "market_id": m["market_id"], "period": m["period"],
        "kappa": kappa, "share_self_pct": sa, "share_other_pct": sb, "diversion": div,
        "margin": np.where(usable, margin, np.nan),
        "margin_source": np.where(usable, source, np.where(np.isnan(margin), sens.get("source"),
                                                           source.fillna("") + " (an operating loss: no margin)")),
        "mguppi": np.where(usable, base * margin, np.nan),
        "low": np.where(usable, np.nan, base * lo_m), "high": np.where(usable, np.nan, base * hi_m)})
    return out[cols].reset_index(drop=True)


def coordinated_rows(u: pd.DataFrame, conc: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Coordinated-effects flag per stake relationship (``screens`` rows, screen ``coordinated``):
    of the fresh series where both groups sell (the :func:`unilateral_screens` rows), the one with
    the highest HHI; flagged when it is above ``coordinated.hhi_above`` (2023 Guidelines: 1,800).
    ``value`` that HHI (points), ``threshold`` the bound. The stake is already in the market, so
    the series' HHI is the post-deal level (a partial stake leaves plain HHI unchanged)."""
    co = config["coordinated"]
    bound = float(co["hhi_above"])
    h = u[["investor_id", "investee_id", "market_id", "period"]].merge(
        conc[["market_id", "period", "hhi"]].drop_duplicates(["market_id", "period"]), on=["market_id", "period"])
    h = h.sort_values(["investor_id", "investee_id", "hhi"], ascending=[True, True, False], kind="stable")
    n = h.groupby(["investor_id", "investee_id"])["market_id"].transform("size")
    w = h.drop_duplicates(["investor_id", "investee_id"])
    if w.empty:
        return pd.DataFrame(columns=SCREEN_COLUMNS)
    n = n.loc[w.index]
    hhi = w["hhi"].astype(float)
    verdict = (np.where(hhi > bound, "flag: ", "no flag: ") + "HHI " + hhi.map("{:,.0f}".format) + " in "
               + w["market_id"] + " " + w["period"] + np.where(hhi > bound, " is above ", " is not above ")
               + f"{bound:,.0f}" + np.where(n > 1, " (the highest of " + n.astype(str) + " series where both sell)", ""))
    return pd.DataFrame({
        "subject_type": "relationship", "subject_id": w["investor_id"] + "->" + w["investee_id"],
        "screen": "coordinated", "investor_id": w["investor_id"], "investee_id": w["investee_id"], "entity_id": None,
        "market_id": w["market_id"], "period": w["period"], "as_of": None, "stake_pct": np.nan, "votes_pct": np.nan,
        "voting": None, "rights": None, "value": hhi, "threshold": bound, "verdict": verdict, "regime": None,
        "verified": co.get("verified", "unverified"), "source": co["source"], "ref_file": None, "ref_row": None})


def _guppi_verdicts(u: pd.DataFrame, thresholds: list[dict]) -> pd.Series:
    """Verdict text per :func:`unilateral_screens` row against every configured threshold."""
    t = np.array([float(x["value"]) for x in thresholds])
    point = u["mguppi"].to_numpy(float)
    at = np.where(np.isnan(point), u["high"].to_numpy(float), point)
    over = at[:, None] > t[None, :]
    names = np.array([f"{100 * v:g}%" for v in t], dtype=object)
    above = pd.Series("", index=u.index)
    for j, name in enumerate(names):          # one pass per threshold (a handful), not per row
        above = above + np.where(over[:, j], ", " + name, "")
    above = above.str.slice(2)
    pct = lambda x: (100 * x).map("{:.2f}%".format)  # noqa: E731
    head = ("on " + u["investor_id"] + "'s price in " + u["market_id"] + " " + u["period"] + " (kappa "
            + u["kappa"].map("{:.3f}".format) + ", diversion " + u["diversion"].map("{:.3f}".format) + "): ")
    exact = pct(u["mguppi"]) + np.where(above.ne(""), ": above " + above, ": below every threshold")
    sens = ("sensitivity only " + pct(u["low"]) + "-" + pct(u["high"]) + " over assumed margins"
            + np.where(above.ne(""), "; above " + above + " at the high end", "; below every threshold"))
    return head + np.where(np.isnan(point), sens, exact)


def screens_summary(screens: pd.DataFrame) -> dict:
    """One sentence per relationship citing its screens, for the antitrust score's explanation:
    ``{(investor_id, investee_id): "Screens: control UK ..., EU ...; entrenchment: ...;
    eu non horizontal: ... (unverified rules: ...)."}``; the four control verdicts collapse to one
    when they agree. Vectorised: string columns joined per pair."""
    if screens is None or screens.empty:
        return {}
    r = screens[screens["subject_type"] == "relationship"]
    if r.empty:
        return {}
    key = ["investor_id", "investee_id"]
    is_ctl = r["screen"].str.startswith("control.")
    juris = r["screen"].str.slice(len("control."))          # meaningful on control rows only
    order = np.where(is_ctl, juris.map({j: i for i, j in enumerate(JURISDICTIONS)}).fillna(0), len(JURISDICTIONS))
    r = r.assign(_ctl=is_ctl, _lab=r["screen"].where(~is_ctl, juris.str.upper()), _o=order).sort_values(
        key + ["_o", "screen"], kind="stable")
    ctl, other = r[r["_ctl"]], r[~r["_ctl"]]
    g = ctl.groupby(key, sort=False)
    same = g["verdict"].nunique() == 1
    labels = g["_lab"].agg(", ".join)
    first = g["verdict"].first()
    each = (ctl["_lab"] + " " + ctl["verdict"]).groupby([ctl["investor_id"], ctl["investee_id"]], sort=False).agg(", ".join)
    control = ("control " + first + " in " + labels).where(same, "control " + each)
    named = other["screen"].replace({"effective_dhhi": "effective ΔHHI", "mguppi": "MGUPPI"}).str.replace("_", " ")
    rest = ((named + ": " + other["verdict"])
            .groupby([other["investor_id"], other["investee_id"]], sort=False).agg("; ".join))
    unv = r[r["verified"] != "primary"]
    unverified = unv["_lab"].groupby([unv["investor_id"], unv["investee_id"]], sort=False).agg(", ".join)
    parts = pd.concat([control.rename("c"), rest.rename("r"), unverified.rename("u")], axis=1)
    body = parts["c"].fillna("")
    body = body.where(parts["r"].isna(), (body + "; " + parts["r"].fillna("")).str.lstrip("; "))
    text = "Screens: " + body + np.where(parts["u"].notna(), " (unverified rules: " + parts["u"].fillna("") + ")", "") + "."
    return dict(zip(parts.index, text))
