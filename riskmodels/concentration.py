"""Concentration measures on market shares, plain and ownership-adjusted.

Units: shares in percent (0-100) as reported, never renormalised to the attributed total;
HHI, MHHI and deltas in points (0-10,000); ownership ``beta`` and control ``gamma`` as
fractions (0-1), owners in rows and firms in columns.

Formulas (cited):
- HHI = sum of squared shares -- 2023 DOJ/FTC Merger Guidelines, Guideline 1 (and 2010 HMG s.5.3).
- Unattributed remainder R = 100 - sum(shares): lower bound = named firms only; upper bound
  adds R as one firm (R^2), the largest HHI any split of R can add.
- CRk = sum of the k largest shares; numbers-equivalent = 10,000 / HHI (Adelman 1969).
- Zones: 2023 Merger Guidelines: HHI > 1,800 "highly concentrated"; DOJ HHI page:
  1,000-1,800 "moderately concentrated"; below 1,000 "unconcentrated".
- Merger delta: dHHI = (sum s)^2 - sum s^2 over the merging firms, on pre-merger shares
  (2010 HMG s.5.3; for two firms 2*s_a*s_b).
- Profit weights: kappa_jk = sum_i gamma_ij beta_ik / sum_i gamma_ij beta_ij -- O'Brien & Salop
  (2000), 67 Antitrust L.J. 559; Backus, Conlon & Sinkinson (2021). The denominator belongs to
  the *controlled* firm j (row j). The R package ``antitrust`` (HHI()) divides by the other
  diagonal, W[j,k]/W[k,k]; we do not, and the two differ whenever ownership or control is
  asymmetric (see tests/test_ownership_api.py).
- MHHI = sum_j sum_k s_j s_k kappa_jk = HHI + MHHI delta (Bresnahan & Salop 1986; O'Brien &
  Salop 2000).
- Indirect ownership: B_eff = B (I - C)^-1, C[a, b] the fraction of firm b held by firm a
  (consolidated-profit approach, e.g. Gilo, Moshe & Spiegel 2006).
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

ZONE_HIGH = "highly concentrated"
ZONE_MODERATE = "moderately concentrated"
ZONE_UNCONCENTRATED = "unconcentrated"


def _as_shares(shares_pct, name: str = "shares_pct") -> np.ndarray:
    arr = np.asarray(shares_pct, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; drop unknown shares before computing HHI")
    if (arr < 0).any() or (arr > 100).any():
        raise ValueError(f"{name} must be percentages in [0, 100], got {arr[(arr < 0) | (arr > 100)].tolist()}")
    return arr


def hhi(shares_pct: Iterable[float]) -> float:
    """Herfindahl-Hirschman Index of one market.

    Parameters
    ----------
    shares_pct : array-like of float
        Market shares in percent (0-100), one per firm. Not renormalised: if they sum to less
        than 100 the result covers the named firms only (a lower bound).

    Returns
    -------
    float
        HHI in points, 0-10,000 (2023 Merger Guidelines, Guideline 1: sum of squared shares).
    """
    arr = _as_shares(shares_pct)
    return float(np.sum(arr ** 2))


def zone(hhi_points, high_above: float = 1800.0, moderate_from: float = 1000.0):
    """Concentration zone of the 2023 US Merger Guidelines for HHI value(s) in points.

    ``high_above`` is strict (HHI > 1,800 is highly concentrated); ``moderate_from`` is
    inclusive (1,000 <= HHI <= 1,800 is moderately concentrated). NaN gives None.
    """
    h = np.asarray(hhi_points, dtype=float)
    out = np.where(h > high_above, ZONE_HIGH, np.where(h >= moderate_from, ZONE_MODERATE, ZONE_UNCONCENTRATED))
    out = np.where(np.isnan(h), None, out)
    return out if out.ndim else out.item()


def concentration_table(shares: pd.DataFrame, group: list[str] | None = None,
                        high_above: float = 1800.0, moderate_from: float = 1000.0) -> pd.DataFrame:
    """Concentration measures for every market-period, vectorised over all groups.

    Parameters
    ----------
    shares : DataFrame
        One row per firm per market-period with columns ``group`` (default
        ``market_id, period``), ``entity_id`` and ``share_pct`` (percent, 0-100). Rows with an
        unknown share (NaN) are counted in ``n_unknown_share`` and left out of the measures.
    group : list of str, optional
        Columns identifying one market-period.
    high_above, moderate_from : float
        Zone thresholds in HHI points (see :func:`zone`).

    Returns
    -------
    DataFrame
        One row per group: ``n_firms`` (named firms with a known share), ``n_unknown_share``,
        ``attributed_pct`` (sum of named shares), ``hhi`` (named firms only), ``hhi_lower``
        (= ``hhi``), ``hhi_upper`` (remainder as one firm), ``cr1``, ``cr4``,
        ``numbers_equivalent`` (10,000 / HHI), ``top_entity_id``, ``zone``, ``zone_upper``.
    """
    group = group or ["market_id", "period"]
    missing = [c for c in [*group, "entity_id", "share_pct"] if c not in shares.columns]
    if missing:
        raise ValueError(f"shares is missing columns {missing}")
    df = shares[[*group, "entity_id", "share_pct"]].copy()
    df["share_pct"] = pd.to_numeric(df["share_pct"], errors="raise").astype(float)
    bad = df["share_pct"].notna() & ~df["share_pct"].between(0, 100)
    if bad.any():
        raise ValueError(f"share_pct outside [0, 100] at rows {df.index[bad].tolist()}")

    known = df[df["share_pct"].notna()].sort_values([*group, "share_pct"], ascending=[True] * len(group) + [False])
    known = known.assign(sq=known["share_pct"] ** 2, rank=known.groupby(group, sort=False).cumcount())
    g = known.groupby(group, sort=True)
    out = pd.DataFrame({
        "n_firms": g["share_pct"].size(),
        "attributed_pct": g["share_pct"].sum(),
        "hhi": g["sq"].sum(),
        "cr1": g["share_pct"].max(),
        "cr4": known[known["rank"] < 4].groupby(group)["share_pct"].sum(),
        "top_entity_id": g["entity_id"].first(),
    })
    unknown = df[df["share_pct"].isna()].groupby(group).size().rename("n_unknown_share")
    all_groups = df[group].drop_duplicates().set_index(group).index
    out = out.reindex(all_groups.union(out.index)).join(unknown)
    out["n_unknown_share"] = out["n_unknown_share"].fillna(0).astype(int)
    out["n_firms"] = out["n_firms"].fillna(0).astype(int)
    remainder = (100.0 - out["attributed_pct"]).clip(lower=0)
    out["hhi_lower"] = out["hhi"]
    out["hhi_upper"] = out["hhi"] + remainder ** 2
    out["numbers_equivalent"] = 10_000.0 / out["hhi"].where(out["hhi"] > 0)
    out["zone"] = zone(out["hhi"].to_numpy(), high_above, moderate_from)
    out["zone_upper"] = zone(out["hhi_upper"].to_numpy(), high_above, moderate_from)
    return out.reset_index()


# --------------------------------------------------------------------------- merger delta
def delta_hhi(shares_pct: Iterable[float], merging: Iterable[int]) -> float:
    """Change in HHI when the firms ``merging`` combine, on pre-merger shares.

    Parameters
    ----------
    shares_pct : array-like of float
        Pre-merger shares in percent (0-100), one per firm.
    merging : iterable of int
        Indices (into ``shares_pct``) of the merging firms; at least two, no repeats.

    Returns
    -------
    float
        dHHI in points: (sum of merging shares)^2 - sum of their squares (2010 HMG s.5.3).
    """
    s = _as_shares(shares_pct)
    idx = np.asarray(list(merging))
    if idx.ndim != 1 or idx.size < 2:
        raise ValueError("merging must list at least two firm indices")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"merging must be integer indices, got {idx.tolist()}")
    if len(set(idx.tolist())) != idx.size:
        raise ValueError(f"merging lists a firm twice: {idx.tolist()}")
    if (idx < 0).any() or (idx >= s.size).any():
        raise ValueError(f"merging index out of range 0..{s.size - 1}: {idx.tolist()}")
    m = s[idx]
    return float(m.sum() ** 2 - np.sum(m ** 2))


# --------------------------------------------------------------------------- ownership
def _as_matrix(x, name: str, ndim: int | tuple = 2) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions (owners x firms), "
                         f"got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if (arr < 0).any():
        raise ValueError(f"{name} contains negative values")
    return arr


def _check_beta(beta: np.ndarray) -> None:
    if (beta > 1 + 1e-9).any():
        raise ValueError("beta holds fractions (0-1): an owner cannot hold more than 100% of a firm")
    over = beta.sum(axis=-2) > 1 + 1e-6
    if over.any():
        raise ValueError(f"beta: owners of a firm hold more than 100% in total (firm columns "
                         f"{np.argwhere(over).tolist()})")


def _kappa(beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Profit weights for stacks of (owners x firms) matrices -> (firms x firms), vectorised."""
    w = np.matmul(np.swapaxes(gamma, -1, -2), beta)          # W[j,k] = sum_i gamma_ij beta_ik
    d = np.diagonal(w, axis1=-2, axis2=-1)                   # W[j,j], the controlled firm's own term
    uncontrolled = d <= 0
    if uncontrolled.any():
        warnings.warn(f"{int(uncontrolled.sum())} firm(s) have no controlling owner with a cash-flow stake "
                      "(sum_i gamma_ij beta_ij = 0); their kappa rows are set to 0", RuntimeWarning, stacklevel=3)
    safe = np.where(uncontrolled, 1.0, d)
    k = w / safe[..., :, None]
    return np.where(uncontrolled[..., :, None], 0.0, k)


def profit_weights(beta, gamma=None) -> np.ndarray:
    """O'Brien-Salop profit weights kappa (F x F).

    Parameters
    ----------
    beta : array-like, shape (owners, firms)
        ``beta[i][j]``: owner i's cash-flow share of firm j, as a fraction (0-1).
    gamma : array-like, shape (owners, firms), optional
        ``gamma[i][j]``: owner i's control weight over firm j (any non-negative scale per firm:
        scaling a firm's column leaves kappa unchanged). Default ``beta`` (proportional control).

    Returns
    -------
    ndarray, shape (firms, firms)
        ``kappa[j][k] = sum_i gamma_ij beta_ik / sum_i gamma_ij beta_ij``: the weight firm j's
        managers put on firm k's profit. Row j belongs to the controlled firm j (O'Brien & Salop
        2000; Backus, Conlon & Sinkinson). A firm nobody controls gets a zero row and a
        RuntimeWarning, never a NaN.
    """
    b = _as_matrix(beta, "beta")
    _check_beta(b)
    g = b if gamma is None else _as_matrix(gamma, "gamma")
    if g.shape != b.shape:
        raise ValueError(f"gamma shape {g.shape} differs from beta shape {b.shape}")
    return _kappa(b, g)


@dataclass(frozen=True)
class MHHIResult:
    """HHI, MHHI and their difference (points, 0-10,000) with the profit weights used."""

    hhi: float
    mhhi: float
    delta: float
    kappa: np.ndarray


def mhhi(shares_pct, beta, gamma=None) -> MHHIResult:
    """Modified HHI of one market (Bresnahan & Salop 1986; O'Brien & Salop 2000).

    Parameters
    ----------
    shares_pct : array-like, shape (firms,)
        Market shares in percent (0-100).
    beta, gamma : array-like, shape (owners, firms)
        Cash-flow and control matrices as in :func:`profit_weights` (gamma defaults to beta).

    Returns
    -------
    MHHIResult
        ``.hhi`` = sum s_j^2; ``.delta`` = sum_j sum_{k != j} s_j s_k kappa_jk (MHHI delta);
        ``.mhhi`` = hhi + delta. Where every firm is controlled, kappa_jj = 1 and this equals
        sum_j sum_k s_j s_k kappa_jk exactly; a firm nobody controls keeps its own s_j^2 and adds
        no cross terms.
    """
    s = _as_shares(shares_pct)
    k = profit_weights(beta, gamma)
    if k.shape[0] != s.size:
        raise ValueError(f"shares_pct has {s.size} firms but beta has {k.shape[0]} firm columns")
    h = float(np.sum(s ** 2))
    off = k - np.diag(np.diagonal(k))
    delta = float(s @ off @ s)
    return MHHIResult(hhi=h, mhhi=h + delta, delta=delta, kappa=k)


def mhhi_many(shares_pct, beta, gamma=None) -> pd.DataFrame:
    """MHHI of many markets at once (no Python loop over markets, firms or owners).

    Parameters
    ----------
    shares_pct : array-like, shape (markets, firms)
        Shares in percent; pad absent firms with 0.
    beta, gamma : array-like, shape (markets, owners, firms) or (owners, firms)
        Per-market ownership and control (or one matrix shared by every market); pad absent
        owners with zero rows. gamma defaults to beta.

    Returns
    -------
    DataFrame with columns ``hhi``, ``mhhi``, ``delta`` (points), one row per market.
    """
    s = np.asarray(shares_pct, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"shares_pct must be (markets, firms), got shape {s.shape}")
    if not np.isfinite(s).all() or (s < 0).any() or (s > 100).any():
        raise ValueError("shares_pct must be finite percentages in [0, 100]")
    b = _as_matrix(beta, "beta", (2, 3))
    _check_beta(b)
    g = b if gamma is None else _as_matrix(gamma, "gamma", (2, 3))
    if g.shape != b.shape:
        raise ValueError(f"gamma shape {g.shape} differs from beta shape {b.shape}")
    if b.shape[-1] != s.shape[1] or (b.ndim == 3 and b.shape[0] != s.shape[0]):
        raise ValueError(f"beta shape {b.shape} does not match shares shape {s.shape}")
    k = _kappa(b, g)
    k = np.broadcast_to(k, (s.shape[0], *k.shape[-2:]))
    h = np.einsum("mj,mj->m", s, s)
    total = np.einsum("mj,mjk,mk->m", s, k, s)
    own = np.einsum("mj,mjj,mj->m", s, k, s)
    delta = total - own
    return pd.DataFrame({"hhi": h, "mhhi": h + delta, "delta": delta})


def effective_ownership(beta, cross) -> np.ndarray:
    """Cash-flow (or control) shares through chains of firm-to-firm holdings.

    Parameters
    ----------
    beta : array-like, shape (owners, firms)
        Direct holdings of the ultimate (non-firm) owners, fractions 0-1.
    cross : array-like, shape (firms, firms)
        ``cross[a][b]``: the fraction of firm b held by firm a (zero diagonal).

    Returns
    -------
    ndarray, shape (owners, firms)
        ``B_eff = B (I - C)^-1``: e.g. a fund holding 10% of Microsoft, which holds 27% of
        OpenAI, gets 2.7% of OpenAI's profit on top of any direct stake.
    """
    b = _as_matrix(beta, "beta")
    c = _as_matrix(cross, "cross")
    f = c.shape[0]
    if c.shape != (f, f) or b.shape[1] != f:
        raise ValueError(f"cross must be square (firms x firms) matching beta's {b.shape[1]} firms, got {c.shape}")
    if np.any(np.diagonal(c) != 0):
        raise ValueError("cross must have a zero diagonal (a firm does not hold itself)")
    if (c.sum(axis=0) + b.sum(axis=0) > 1 + 1e-6).any():
        raise ValueError("holdings of some firm exceed 100% (beta + cross column sums)")
    if (c.sum(axis=0) >= 1).any():
        raise ValueError("firms cannot be wholly held by other firms in a cycle: (I - C) must be invertible")
    return np.linalg.solve((np.eye(f) - c).T, b.T).T


# --------------------------------------------------------------------------- guideline screens
_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}


@dataclass(frozen=True)
class Screen:
    """Outcome of a guideline screen: ``zone`` (text), ``presumption`` (bool), ``concern`` (text or
    None) and the guideline's ``source``."""

    guideline: str
    zone: str
    presumption: bool
    concern: str | None
    source: str


def _guidelines() -> dict:
    from .config import get_settings, load_yaml

    return load_yaml(get_settings().home / "config" / "guidelines.yaml")["guidelines"]


def _holds(rule: dict, values: dict) -> bool:
    for key in ("hhi", "delta", "share"):
        if key not in rule:
            continue
        conds = rule[key] if isinstance(rule[key][0], list) else [rule[key]]
        v = values[key]
        if v is None:
            return False
        for op, bound in conds:
            if not _OPS[op](v, bound):
                return False
    return True


def screen(post_hhi: float, delta: float, merged_share_pct: float | None = None,
           guideline: str = "us-2023") -> Screen:
    """Screen a post-transaction HHI (or MHHI) and its change against a merger guideline.

    Parameters
    ----------
    post_hhi : float
        Post-transaction HHI or MHHI in points (0-10,000).
    delta : float
        Its change in points. Never truncated or rounded before comparing.
    merged_share_pct : float, optional
        The merged firm's share in percent (used by the 2023 share test and the EU para 17 flag).
    guideline : {"us-2023", "us-2010", "us-1992", "eu-2004"}
        Thresholds and inequalities as each text words them (``config/guidelines.yaml``):
        2023 presumption is HHI > 1,800 and delta > 100, or share > 30% and delta > 100.
    """
    rules = _guidelines()
    if guideline not in rules:
        raise ValueError(f"unknown guideline {guideline!r}; choose from {sorted(rules)}")
    for name, v in (("post_hhi", post_hhi), ("delta", delta)):
        if v is None or not np.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
    if not 0 <= post_hhi <= 10_000 + 1e-9:
        raise ValueError(f"post_hhi must be in [0, 10000] points, got {post_hhi}")
    if merged_share_pct is not None and not 0 <= merged_share_pct <= 100:
        raise ValueError(f"merged_share_pct must be in [0, 100], got {merged_share_pct}")
    g = rules[guideline]
    values = {"hhi": float(post_hhi), "delta": float(delta), "share": merged_share_pct}
    zone_name = next(z["name"] for z in g["zones"] if _holds(z, values))
    presumption = any(_holds(r, values) for r in g["presumption"]["any"])
    concern = next((c["text"] for c in g.get("concerns", []) if _holds(c, values)), None)
    return Screen(guideline=guideline, zone=zone_name, presumption=bool(presumption), concern=concern,
                  source=g["source"])


GUIDELINES = ("us-2023", "us-2010", "us-1992", "eu-2004")
