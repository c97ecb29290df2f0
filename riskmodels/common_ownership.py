"""Profit weights for a long holdings panel at 13F scale (common ownership, one kappa per quarter).

The daily MHHI engine (:mod:`riskmodels.ownership`) resolves chains of firm-held stakes with
sparse matrices, which pays for a few hundred strategic links. A panel of institutional holdings
is different: tens of millions of holder x firm x quarter rows, and index funds hold nearly every
firm, so each quarter's kappa is dense (Backus, Conlon and Sinkinson 2021, "Common ownership in
America: 1980-2017", AEJ: Micro 13(3)). This module goes from the long rows to the stacked
O'Brien-Salop weights

    kappa_jk(t) = sum_i gamma_ij(t) beta_ik(t) / sum_i gamma_ij(t) beta_ij(t)

(O'Brien and Salop 2000; gamma = beta when control is proportional to cash flow) with one pass
over the rows: ids factorised once (integer ids by a presence table, others by pandas), the rows
grouped by quarter without a sort when they arrive in quarter order (as per-quarter 13F files
do), each quarter scattered into one reused owners x firms buffer and one BLAS product per
quarter (numpy's ``A.T @ A`` takes the symmetric path). Units: ``beta`` and ``gamma`` fractions
0-1 of a firm; kappa a plain weight.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class KappaPanel:
    """Stacked profit weights: ``kappa[t, j, k]`` for quarter ``quarters[t]`` and firms
    ``firms[j]``, ``firms[k]``; ``held[t, j]`` is False where firm j has no holding row that
    quarter (its kappa row and column are 0); ``uncontrolled`` counts (quarter, firm) cells with
    holdings but no controlling owner with a cash-flow stake (kappa row 0, as in
    :func:`riskmodels.concentration.profit_weights`)."""

    quarters: np.ndarray
    firms: np.ndarray
    kappa: np.ndarray
    held: np.ndarray
    uncontrolled: int


def _codes(ids) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes 0..n-1 and the distinct ids (sorted for integers). Non-negative integer ids
    use a presence table (one pass, no hashing); anything else pandas.factorize."""
    a = np.asarray(ids)
    if a.dtype.kind in "iu" and a.size and a.min() >= 0 and a.max() < max(4 * a.size, 1 << 16):
        present = np.zeros(int(a.max()) + 1, dtype=bool)
        present[a] = True
        uniq = np.flatnonzero(present)
        if uniq.size == present.size:                     # already codes 0..n-1: no copy
            return a, uniq
        lookup = np.cumsum(present, dtype=np.int64) - 1
        small = np.int32 if uniq.size < 2 ** 31 else np.int64
        return lookup.astype(small)[a], uniq
    codes, uniq = pd.factorize(a, sort=True)
    return codes, np.asarray(uniq)


def _check(name: str, x: np.ndarray, n: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (n,):
        raise ValueError(f"{name} must have one value per holding row ({n}), got shape {x.shape}")
    bad = ~np.isfinite(x) | (x < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite and >= 0: row {i} is {x[i]!r}")
    return x


def kappa_panel(quarter, owner, firm, beta, gamma=None, out: np.ndarray | None = None) -> KappaPanel:
    """O'Brien-Salop profit weights for every quarter of a long holdings panel.

    Parameters
    ----------
    quarter, owner, firm : array-like, one value per holding row
        Ids of the quarter, the holder and the held firm (any hashable; non-negative integers
        are fastest). A (quarter, owner, firm) triple given twice is summed.
    beta : array-like of float
        The holder's cash-flow share of the firm, fraction 0-1 (a firm's column may sum to less
        than 1: the rest is held by owners outside the panel, who hold no other firm).
    gamma : array-like of float, optional
        The holder's control weight over the firm (any non-negative scale per firm); default
        ``beta`` (proportional control).
    out : ndarray, optional
        A float64 array (or ``numpy.lib.format.open_memmap``) of shape (quarters, firms, firms)
        to write kappa into, e.g. the stored panel on disk.

    Returns
    -------
    KappaPanel
    """
    q_codes, quarters = _codes(quarter)
    n = q_codes.size
    o_codes, owners = _codes(owner)
    f_codes, firms = _codes(firm)
    if o_codes.size != n or f_codes.size != n:
        raise ValueError(f"quarter, owner and firm must have the same length, got {n}, {o_codes.size}, {f_codes.size}")
    b = _check("beta", beta, n)
    g = None if gamma is None else _check("gamma", gamma, n)
    nq, nf, no = quarters.size, firms.size, owners.size
    if out is None:
        out = np.empty((nq, nf, nf))
    elif out.shape != (nq, nf, nf) or out.dtype != np.float64:
        raise ValueError(f"out must be float64 of shape {(nq, nf, nf)}, got {out.dtype} {out.shape}")
    # rows grouped by quarter: no sort when they already are (one comparison pass)
    if n > 1 and (q_codes[1:] < q_codes[:-1]).any():
        order = np.argsort(q_codes, kind="stable")
        q_codes, o_codes, f_codes, b = q_codes[order], o_codes[order], f_codes[order], b[order]
        g = None if g is None else g[order]
        del order
    bounds = np.searchsorted(q_codes, np.arange(nq + 1))
    held = np.zeros((nq, nf), dtype=bool)
    mark = np.zeros(no + 1, dtype=np.int32 if no < 2 ** 31 else np.int64)
    B = np.zeros(0)
    G = np.zeros(0)
    uncontrolled = 0
    for t in range(nq):                      # one BLAS product per quarter; the rows are vectorised
        lo, hi = bounds[t], bounds[t + 1]
        o, f = o_codes[lo:hi], f_codes[lo:hi]
        mark[o] = 1
        present = np.flatnonzero(mark[:no])
        mark[present] = np.arange(present.size)          # quarter-local owner rows
        local = mark[o]
        m = present.size
        if B.size < m * nf:                               # grow the reused buffers only when needed
            B = np.zeros(m * nf)
            G = np.zeros(m * nf) if g is not None else G
        Bq = B[: m * nf].reshape(m, nf)
        Bq[:] = 0.0
        _scatter(Bq, local, f, b[lo:hi])
        if g is None:
            K = Bq.T @ Bq                                 # symmetric: numpy takes the syrk path
        else:
            Gq = G[: m * nf].reshape(m, nf)
            Gq[:] = 0.0
            _scatter(Gq, local, f, g[lo:hi])
            K = Gq.T @ Bq                                 # K[j, k] = sum_i gamma_ij beta_ik
        d = np.diagonal(K).copy()
        h = np.zeros(nf, dtype=bool)
        h[f] = True
        held[t] = h
        ok = d > 0
        uncontrolled += int((h & ~ok).sum())
        np.divide(K, np.where(ok, d, 1.0)[:, None], out=out[t])
        out[t][~ok] = 0.0
        mark[present] = 0
    if uncontrolled:
        warnings.warn(f"{uncontrolled} (quarter, firm) cell(s) have holdings but no controlling owner with a "
                      "cash-flow stake; their kappa rows are 0", RuntimeWarning, stacklevel=2)
    return KappaPanel(quarters=quarters, firms=firms, kappa=out, held=held, uncontrolled=uncontrolled)


def _scatter(buf: np.ndarray, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
    """``buf[rows, cols] = values``, summing cells a quarter lists twice. Plain assignment keeps
    one value per cell, so a repeated cell shows as fewer non-zero cells than non-zero values;
    only then the (slower) unbuffered sum runs. A repeat with a zero value that assignment keeps
    over a non-zero one is caught the same way; one it drops changes nothing."""
    buf[rows, cols] = values
    if np.count_nonzero(buf) != np.count_nonzero(values):
        buf[rows, cols] = 0.0
        np.add.at(buf, (rows, cols), values)
