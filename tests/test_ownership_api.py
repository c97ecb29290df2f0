"""The public ownership API of riskmodels.concentration on worked examples from independent
public sources (each cited) and hypothesis property tests."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from riskmodels.concentration import (GUIDELINES, delta_hhi, effective_ownership, hhi, mhhi, mhhi_many,
                                      profit_weights, screen)


# ----------------------------------------------------------------- worked examples
def test_hmg_2010_delta_example():
    # 2010 DOJ/FTC Horizontal Merger Guidelines s.5.3, footnote: "the merger of firms with shares
    # of five percent and ten percent of the market would increase the HHI by 100 (5 x 10 x 2 = 100)".
    assert delta_hhi([5, 10, 40, 45], [0, 1]) == 100


def test_lambert_identical_owners_example():
    # T. Lambert, "A (Relatively) Non-Technical Explanation of MHHI Delta", Truth on the Market,
    # 2018-08-16: two airlines with equal shares and the same owners: "HHI will be 5,000, MHHI delta
    # will be 5,000, and MHHI ... 10,000".
    beta = np.array([[0.6, 0.6], [0.4, 0.4]])
    r = mhhi([50, 50], beta)
    assert (r.hhi, r.delta, r.mhhi) == (5000, 5000, 10000)


@pytest.mark.parametrize("b", [0.1, 0.3, 0.49])
def test_obrien_salop_one_way_stake_closed_forms(b):
    # O'Brien & Salop (2000), "Competitive Effects of Partial Ownership: Financial Interest and
    # Corporate Control", 67 Antitrust L.J. 559: acquirer A holds b of target T. MHHI delta is
    # b*sA*sT with a silent financial interest and sA*sT*(b + 1/b) with total control; a full
    # merger gives 2*sA*sT (the HHI delta).
    sa, st_ = 20.0, 10.0
    beta = np.array([[1.0, b], [0.0, 1 - b]])  # rows: A's owners, T's other owners
    silent = mhhi([sa, st_], beta, np.array([[1.0, 0.0], [0.0, 1.0]]))
    total = mhhi([sa, st_], beta, np.array([[1.0, 1.0], [0.0, 0.0]]))
    prop = mhhi([sa, st_], beta)
    assert silent.delta == pytest.approx(b * sa * st_)
    assert total.delta == pytest.approx(sa * st_ * (b + 1 / b))
    assert prop.delta == pytest.approx(sa * st_ * (b + b / (b**2 + (1 - b) ** 2)))
    merger = mhhi([sa, st_], np.array([[1.0, 1.0]]))
    assert merger.delta == pytest.approx(2 * sa * st_) == delta_hhi([sa, st_], [0, 1])


def test_differs_from_the_r_antitrust_orientation_on_its_own_example():
    # R package `antitrust` (Taragin), ?HHI, documented partial-ownership example: product shares
    # .15,.2,.25,.35,.05; firm A makes products 1-2, B makes 3-4, C makes 5; A takes 75% of
    # product 3 and B 10% of product 1, control unchanged. The package divides W[j,k] by W[k,k];
    # O'Brien-Salop divide by W[j,j], the controlled product's own term.
    shares = np.array([15, 20, 25, 35, 5.0])
    beta = np.array([[0.9, 1, 0.75, 0, 0],     # owner A
                     [0.1, 0, 0.25, 1, 0],     # owner B
                     [0.0, 0, 0.00, 0, 1]])    # owner C
    gamma = np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1.0]])
    ours = mhhi(shares, beta, gamma)
    w = gamma.T @ beta
    obrien_salop = shares @ (w / np.diagonal(w)[:, None]) @ shares
    r_package = shares @ (w / np.diagonal(w)[None, :]) @ shares
    assert ours.mhhi == pytest.approx(obrien_salop)
    assert abs(ours.mhhi - r_package) > 1.0
    # A's weight on product 3 as O'Brien-Salop define it: (1*0.75)/(1*0.9 + ...)= beta_A3 / beta_A1 for row 1
    assert ours.kappa[0, 2] == pytest.approx(0.75 / 0.9)


def test_chain_ownership_single_stake_reproduces_direct_form():
    # antitrust-methods note / consolidated-profit approach: C[A,T] = b gives B_eff = [[1, b], [0, 1-b]].
    b = 0.27
    eff = effective_ownership(np.array([[1.0, 0.0], [0.0, 1 - b]]), np.array([[0.0, b], [0.0, 0.0]]))
    np.testing.assert_allclose(eff, [[1.0, b], [0.0, 1 - b]])
    # fund -> Microsoft -> OpenAI: a fund with 10% of Microsoft gets 2.7% of OpenAI
    eff = effective_ownership(np.array([[0.10, 0.0], [0.90, 0.0], [0.0, 1 - b]]),
                              np.array([[0.0, b], [0.0, 0.0]]))
    assert eff[0, 1] == pytest.approx(0.027)


def test_uncontrolled_firm_gets_zero_row_and_warning():
    beta = np.array([[1.0, 0.2], [0.0, 0.8]])
    gamma = np.array([[1.0, 0.0], [0.0, 0.0]])
    with pytest.warns(RuntimeWarning, match="no controlling owner"):
        k = profit_weights(beta, gamma)
    assert np.isfinite(k).all() and (k[1] == 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = mhhi([30, 20], beta, gamma)
    assert r.mhhi >= r.hhi and np.isfinite(r.mhhi)


@pytest.mark.parametrize("call", [
    lambda: profit_weights([[0.5, np.nan]]),
    lambda: profit_weights([[1.5, 0.1]]),
    lambda: profit_weights([[0.7], [0.6]]),
    lambda: profit_weights([[0.5, 0.1]], [[0.5]]),
    lambda: profit_weights([0.5, 0.5]),
    lambda: mhhi([50, 50, 0], [[1.0, 1.0]]),
    lambda: delta_hhi([10, 20], [0]),
    lambda: delta_hhi([10, 20], [0, 2]),
    lambda: delta_hhi([10, 20], [1, 1]),
    lambda: screen(1900, 150, guideline="uk-2021"),
    lambda: screen(12000, 150),
    lambda: screen(1900, float("nan")),
    lambda: effective_ownership([[1.0, 0.0]], [[0.5, 0.0], [0.0, 0.0]]),
])
def test_validation_at_the_boundary(call):
    with pytest.raises(ValueError):
        call()


# ----------------------------------------------------------------- screens
@pytest.mark.parametrize("args,guideline,zone,presumption", [
    ((1801, 101), "us-2023", "highly concentrated", True),
    ((1800, 101), "us-2023", "moderately concentrated", False),   # strict > 1,800
    ((1801, 100), "us-2023", "highly concentrated", False),       # strict > 100
    ((1200, 101, 31), "us-2023", "moderately concentrated", True),  # share > 30% and delta > 100
    ((1200, 101, 30), "us-2023", "moderately concentrated", False),
    ((2501, 201), "us-2010", "highly concentrated", True),
    ((2501, 200), "us-2010", "highly concentrated", False),       # exactly 200: not presumed
    ((2500, 300), "us-2010", "moderately concentrated", False),
    ((1801, 101), "us-1992", "highly concentrated", True),
    ((999, 500), "eu-2004", "comfort zone (para 19: HHI below 1,000)", False),
    ((2000, 249), "eu-2004", "comfort zone (para 20: HHI 1,000-2,000, delta below 250)", False),
    ((2001, 150), "eu-2004", "outside the comfort zones", False),
])
def test_screen_thresholds(args, guideline, zone, presumption):
    s = screen(*args, guideline=guideline)
    assert (s.zone, s.presumption) == (zone, presumption)
    assert s.source


def test_every_guideline_screens():
    assert {screen(3000, 300, 40, g).guideline for g in GUIDELINES} == set(GUIDELINES)


# ----------------------------------------------------------------- properties
def _ownership(draw, n_owners, n_firms):
    raw = draw(arrays(np.float64, (n_owners, n_firms), elements=st.floats(0.0, 1.0)))
    totals = raw.sum(axis=0)
    totals[totals == 0] = 1.0
    beta = raw / totals          # each firm wholly owned by the listed owners
    beta[:, raw.sum(axis=0) == 0] = 0.0
    beta[0, raw.sum(axis=0) == 0] = 1.0
    return beta


@st.composite
def market(draw):
    f = draw(st.integers(2, 6))
    o = draw(st.integers(1, 5))
    raw = draw(arrays(np.float64, f, elements=st.floats(0.5, 10.0)))
    shares = raw / raw.sum() * draw(st.floats(10, 100))
    return shares, _ownership(draw, o, f)


@given(market())
@settings(max_examples=60, deadline=None)
def test_mhhi_equals_hhi_without_cross_ownership(m):
    shares, _ = m
    r = mhhi(shares, np.eye(len(shares)))
    assert r.mhhi == pytest.approx(hhi(shares)) and r.delta == pytest.approx(0, abs=1e-9)


@given(market(), st.data())
@settings(max_examples=60, deadline=None)
def test_full_merger_delta_is_twice_the_product(m, data):
    shares, _ = m
    a, b = data.draw(st.lists(st.integers(0, len(shares) - 1), min_size=2, max_size=2, unique=True))
    owner = np.eye(len(shares))
    owner[a, b], owner[b, b] = 1.0, 0.0          # a's owners now own b outright
    owner = owner[[i for i in range(len(shares)) if i != b]]
    r = mhhi(shares, owner)
    assert r.delta == pytest.approx(2 * shares[a] * shares[b]) == pytest.approx(delta_hhi(shares, [a, b]))


@given(market(), st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_invariant_to_permuting_firms_and_owners(m, rnd):
    shares, beta = m
    fp = list(range(len(shares)))
    op = list(range(beta.shape[0]))
    rnd.shuffle(fp)
    rnd.shuffle(op)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = mhhi(shares, beta)
        b = mhhi(shares[fp], beta[np.ix_(op, fp)])
    assert b.mhhi == pytest.approx(a.mhhi) and b.delta == pytest.approx(a.delta, abs=1e-6)


@given(market(), st.data())
@settings(max_examples=60, deadline=None)
def test_scaling_one_firms_gamma_column_leaves_kappa_unchanged(m, data):
    _, beta = m
    j = data.draw(st.integers(0, beta.shape[1] - 1))
    c = data.draw(st.floats(0.01, 100.0))
    gamma = beta.copy()
    gamma[:, j] *= c
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(profit_weights(beta, gamma), profit_weights(beta), rtol=1e-9, atol=1e-12)


def test_asymmetric_kappa_is_not_transposed():
    # owner 0 holds 60% of firm 0 and 10% of firm 1 (proportional control): firm 0's managers weigh
    # firm 1 by <b0,b1>/<b0,b0>; firm 1's by <b0,b1>/<b1,b1>.
    beta = np.array([[0.6, 0.1], [0.4, 0.0], [0.0, 0.9]])
    k = profit_weights(beta)
    assert k[0, 1] == pytest.approx((0.6 * 0.1) / (0.6**2 + 0.4**2))
    assert k[1, 0] == pytest.approx((0.6 * 0.1) / (0.1**2 + 0.9**2))
    assert k[0, 1] != pytest.approx(k[1, 0])


@given(st.lists(market(), min_size=1, max_size=5))
@settings(max_examples=30, deadline=None)
def test_batched_equals_single(markets):
    f = max(len(s) for s, _ in markets)
    o = max(b.shape[0] for _, b in markets)
    S = np.zeros((len(markets), f))
    B = np.zeros((len(markets), o + f, f))
    for i, (s, b) in enumerate(markets):
        S[i, : len(s)] = s
        B[i, : b.shape[0], : len(s)] = b
        B[i, o + np.arange(len(s), f), np.arange(len(s), f)] = 1.0   # padded firms own themselves
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = mhhi_many(S, B)
        for i, (s, b) in enumerate(markets):
            assert out.loc[i, "mhhi"] == pytest.approx(mhhi(s, b).mhhi)
