"""kappa_panel against a dense reference (riskmodels.concentration.profit_weights per quarter)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskmodels.common_ownership import kappa_panel
from riskmodels.concentration import profit_weights


def _panel(seed: int, quarters=5, owners=40, firms=12, density=0.3):
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(quarters):
        mask = rng.random((owners, firms)) < density
        mask[0] = True                                    # an index fund holds every firm
        o, f = np.nonzero(mask)
        rows.append(pd.DataFrame({"quarter": 2000 + t, "owner": o * 7 + 3, "firm": f * 11 + 5,
                                  "beta": rng.random(o.size) * 0.02, "gamma": rng.random(o.size)}))
    return pd.concat(rows, ignore_index=True)


def _reference(p: pd.DataFrame, gamma: bool):
    quarters, owners, firms = (np.sort(p[c].unique()) for c in ("quarter", "owner", "firm"))
    oi, fi = ({v: i for i, v in enumerate(a)} for a in (owners, firms))
    out = np.zeros((len(quarters), len(firms), len(firms)))
    for t, q in enumerate(quarters):
        d = p[p["quarter"] == q]
        B = np.zeros((len(owners), len(firms)))
        G = np.zeros_like(B)
        np.add.at(B, (d["owner"].map(oi), d["firm"].map(fi)), d["beta"])
        np.add.at(G, (d["owner"].map(oi), d["firm"].map(fi)), d["gamma"])
        with pytest.warns(RuntimeWarning) if (B.sum(axis=0) == 0).any() else _nothing():
            out[t] = profit_weights(B, G if gamma else None)
    return out


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("gamma", [False, True])
def test_kappa_panel_equals_the_dense_reference(gamma):
    p = _panel(1)
    ref = _reference(p, gamma)
    got = kappa_panel(p["quarter"], p["owner"], p["firm"], p["beta"], p["gamma"] if gamma else None)
    assert got.kappa.shape == ref.shape == (5, 12, 12)
    np.testing.assert_allclose(got.kappa, ref, rtol=0, atol=1e-9)
    assert list(got.quarters) == list(range(2000, 2005)) and got.held.all()
    if gamma:
        # an asymmetric gamma makes kappa asymmetric: a transposed product would fail here
        assert np.abs(ref - np.swapaxes(ref, 1, 2)).max() > 1e-3
        np.testing.assert_raises(AssertionError, np.testing.assert_allclose, np.swapaxes(got.kappa, 1, 2), ref,
                                 rtol=0, atol=1e-9)


def test_rows_in_any_order_repeated_cells_and_string_ids():
    p = _panel(2)
    ref = _reference(pd.concat([p, p.iloc[:30].assign(beta=p["beta"].iloc[:30] * 0.5)]).groupby(
        ["quarter", "owner", "firm"], as_index=False)[["beta", "gamma"]].sum(), True)
    # the first 30 rows again with half their beta and their gamma: cells are summed
    extra = p.iloc[:30].assign(beta=p["beta"].iloc[:30] * 0.5)
    shuffled = pd.concat([p, extra]).sample(frac=1.0, random_state=0)
    got = kappa_panel(shuffled["quarter"].astype(str), "o" + shuffled["owner"].astype(str),
                      shuffled["firm"], shuffled["beta"], shuffled["gamma"])
    np.testing.assert_allclose(got.kappa, ref, rtol=0, atol=1e-9)


def test_a_firm_missing_from_a_quarter_and_bad_rows():
    p = _panel(3)
    p = p[~((p["quarter"] == 2002) & (p["firm"] == 5))]            # firm 5 has no holder in 2002
    got = kappa_panel(p["quarter"], p["owner"], p["firm"], p["beta"])
    assert not got.held[2, 0] and got.held[[0, 1, 3, 4], 0].all()
    assert (got.kappa[2, 0] == 0).all() and (got.kappa[2, :, 0] == 0).all()
    with pytest.raises(ValueError, match="beta must be finite and >= 0: row 4"):
        kappa_panel(p["quarter"], p["owner"], p["firm"], p["beta"].to_numpy() * np.r_[1, 1, 1, 1, -1, np.ones(len(p) - 5)])
    with pytest.raises(ValueError, match="gamma must have one value per holding row"):
        kappa_panel(p["quarter"], p["owner"], p["firm"], p["beta"], p["gamma"].iloc[:-1])
    # a firm held only by owners with no control weight has no controller: its row is 0, warned
    g = p["gamma"].where(p["firm"] != 16, 0.0)
    with pytest.warns(RuntimeWarning, match="no controlling owner"):
        got = kappa_panel(p["quarter"], p["owner"], p["firm"], p["beta"], g)
    assert got.uncontrolled == 5 and (got.kappa[:, 1] == 0).all()


def test_the_ownership_benchmark_runs_at_a_tiny_scale(tmp_path):
    """The 13F-scale benchmark is a script (timed there, never here): every method agrees."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    out = subprocess.run([sys.executable, str(ROOT / "bench" / "ownership_bench.py"), "--quarters", "4", "--firms",
                          "30", "--owners", "25", "60", "--repeat", "1", "--out", str(tmp_path / "o.json")],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads((tmp_path / "o.json").read_text())
    assert set(res["methods"]) == {"ours", "dense", "bcs"} and res["panel"]["rows"] > 4 * 20 * 30
    assert all(m.get("max_abs_diff_vs_ours", 0.0) <= 1e-9 for m in res["methods"].values())
