"""Loop detection: the join-based bounded search finds exactly the cycles networkx enumerates."""
from __future__ import annotations

import datetime as dt

import networkx as nx
import pytest

from conftest import ROOT
from riskmodels import pipeline
from riskmodels.circular import _cycles_through_equity, money_graph
from riskmodels.config import get_settings, load_yaml
from riskmodels.pipeline import _point_in_time, _typed
from riskmodels.synth import write

RUN = dt.date(2026, 11, 24)


def _canon(hops):
    return frozenset(hops)


@pytest.mark.parametrize("scale,seed", [(3, 0), (20, 5)])
def test_join_search_equals_networkx_bounded_enumeration(scale, seed, workspace, tmp_path, monkeypatch):
    summary = write(tmp_path / "world", scale, seed)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(tmp_path / "world" / "sources.yaml"))
    refs = {r["dataset"]: r for r in (pipeline.ingest(n, RUN) for n in pipeline.datasets())}
    frames = {n: _point_in_time(_typed(r, get_settings()), r, RUN) for n, r in refs.items()}
    g = money_graph(frames["investments"], frames["compute_commitments"], frames["entities"],
                    load_yaml(ROOT / "config" / "risk.yaml"))
    want = set()
    for cycle in nx.simple_cycles(g, length_bound=3):
        hops = [(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))]
        if len(cycle) >= 2 and any("equity" in g[u][v]["flows"] for u, v in hops):
            want.add(_canon(hops))
    got = [_canon(h) for h in _cycles_through_equity(g, 3)]
    assert len(got) == len(set(got))                       # each loop once
    assert set(got) == want and len(want) >= summary["planted_loops"]
    trimmed = money_graph(frames["investments"], frames["compute_commitments"], frames["entities"],
                          load_yaml(ROOT / "config" / "risk.yaml"), loops_only=True)
    assert trimmed.number_of_edges() < g.number_of_edges() / 2
    assert {_canon(h) for h in _cycles_through_equity(trimmed, 3)} == want
    two = {c for c in want if len(c) == 2}
    assert {c for c in map(_canon, _cycles_through_equity(g, 2))} == two
