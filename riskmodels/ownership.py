"""Ownership-adjusted concentration from the stake, rights and holder data.

From the point-in-time frames this module builds, for any date:

* the **links**: one row per (owner, firm) with the latest stake known by then (``beta``, a
  fraction), its control weight under the rights mapping (``gamma_rights``) and a status:
  ``included``, ``stake_unknown`` (no stake % published: flagged, never guessed),
  ``contingent`` (warrants and options: not holdings), ``aggregate_excluded`` (holder rows that
  sum other rows) or ``duplicate`` (a firm's holding already given by the stake data);
* the **matrices**: ultimate owners x firm nodes cash-flow ``B`` and control ``G`` plus the
  firm-to-firm holdings ``C``; every firm node gets a residual owner ("other shareholders")
  holding what the listed owners do not. Chains are resolved with
  ``B_eff = B (I - C)^-1`` (and the same for control);
* **MHHI per market-period** under four control regimes:

  ``silent``        minority stakes carry no control: each firm's residual shareholders control it;
  ``rights``        control from voting rights, board seats, observers and consultation rights
                    through ``config/ownership.yaml``;
  ``proportional``  gamma = beta for every owner;
  ``full``          every listed investor controls its investee (the upper end of the band).

Market firms map to their ownership node through the entity registry's parent group (AWS ->
Amazon, Google Cloud -> Alphabet). Ownership for a market-period is taken as of the period's end
(and never after the run date), so a 2022 market is not adjusted by 2026 stakes.
"""
from __future__ import annotations

import datetime as dt
import re
import warnings

import numpy as np
import pandas as pd

from .concentration import mhhi_many
from .dates import date_end, period_end

REGIMES = ("silent", "rights", "proportional", "full")
RESIDUAL = "others@"


def _latest(frame: pd.DataFrame, keys: list[str], value: str, date_col: str) -> pd.DataFrame:
    """Per key, the latest row (by ``date_col`` end date, then file row) with ``value`` present."""
    sub = frame[frame[value].notna()].assign(_end=date_end(frame[date_col]))
    sub = sub.sort_values(["_end", "ref_row"]).groupby(keys, sort=False).tail(1)
    return sub.drop(columns="_end")


def links_as_of(stakes: pd.DataFrame, holders: pd.DataFrame, entities: pd.DataFrame, as_of: dt.date,
                cfg: dict) -> pd.DataFrame:
    """Ownership links known on ``as_of`` (rows dated after it are ignored).

    Returns one row per (owner_id, firm_id) with ``kind`` (``stake`` or ``holder``), ``beta``
    (fraction or NaN), ``votes`` (fraction of votes, or NaN if not reported), ``gamma_rights``,
    ``status``, ``derived`` (the stake was computed by the compilers), ``as_of``, ``ref_row``.
    """
    limit = pd.Timestamp(as_of)
    rights = cfg["rights"]
    cont = re.compile(cfg["contingent_pattern"])
    kinds = entities.set_index("entity_id")["kind"]
    out = []

    s = stakes[date_end(stakes["as_of"]) <= limit]
    if len(s):
        s = s.assign(ref_row=pd.to_numeric(s["ref_row"]))
        last = _latest(s.assign(_any=1), ["investor_id", "investee_id"], "_any", "as_of").drop(columns="_any")
        stake = _latest(s, ["investor_id", "investee_id"], "stake_pct", "as_of")[
            ["investor_id", "investee_id", "stake_pct", "as_of", "notes", "ref_row"]].rename(
            columns={"as_of": "stake_as_of", "notes": "stake_notes", "ref_row": "stake_ref_row"})
        m = last.drop(columns=["stake_pct"]).merge(stake, on=["investor_id", "investee_id"], how="left")
        beta = m["stake_pct"] / 100.0
        contingent = m["stake_notes"].fillna("").str.contains(cont)
        voting = m["voting"].fillna("unknown")
        vote_frac = np.where(voting == "yes", beta.fillna(0.0), 0.0)
        equity_w = np.where(voting == "yes", beta.fillna(0.0),
                            np.where(voting == "no", rights["non_voting_equity"], rights["unknown_voting"]))
        g = (equity_w + rights["board_seat"] * (m["board_seat"] == "yes")
             + rights["board_observer"] * (m["board_observer"] == "yes")
             + rights["consultation_or_info_rights"] * m["consultation_or_info_rights"].notna()
             + rights["exclusivity_or_rofr"] * m["exclusivity_or_rofr"].notna())
        status = np.where(contingent, "contingent", np.where(beta.isna(), "stake_unknown", "included"))
        out.append(pd.DataFrame({
            "owner_id": m["investor_id"], "firm_id": m["investee_id"], "kind": "stake", "beta": beta,
            "votes": np.where(voting == "yes", vote_frac, np.where(voting == "no", 0.0, np.nan)),
            "gamma_rights": g.astype(float), "status": status, "voting": voting,
            "board_seat": m["board_seat"], "board_observer": m["board_observer"],
            "derived": m["stake_notes"].fillna("").str.contains("DERIVED"),
            "as_of": m["stake_as_of"].fillna(m["as_of"]),
            "ref_row": m["stake_ref_row"].fillna(m["ref_row"]).astype(int),
            "ref_file": "stake_rights.csv"}))

    h = holders[date_end(holders["as_of"]) <= limit]
    if len(h):
        h = h.assign(ref_row=pd.to_numeric(h["ref_row"]))
        keys = ["company_id", "holder_id"]
        econ = _latest(h, keys, "pct_shares_outstanding", "as_of")[keys + ["pct_shares_outstanding", "as_of", "ref_row",
                                                                          "holder_type"]]
        vote = _latest(h, keys, "pct_voting_power", "as_of")[keys + ["pct_voting_power"]]
        pairs = h[keys + ["holder_type"]].drop_duplicates(keys, keep="last")
        m = pairs.merge(econ.drop(columns="holder_type"), on=keys, how="left").merge(vote, on=keys, how="left")
        beta = m["pct_shares_outstanding"] / 100.0
        votes = m["pct_voting_power"] / 100.0
        single = m["company_id"].isin(cfg["single_class_companies"])
        votes = votes.fillna(beta.where(single))
        hk = m["holder_id"].map(kinds)
        status = np.where(m["holder_type"].isin(cfg["firm_holder_types"]), "duplicate",
                          np.where(hk.isin(cfg["exclude_holder_kinds"]), "aggregate_excluded",
                                   np.where(beta.isna(), "stake_unknown", "included")))
        out.append(pd.DataFrame({
            "owner_id": m["holder_id"], "firm_id": m["company_id"], "kind": "holder", "beta": beta,
            "votes": votes, "gamma_rights": votes.fillna(0.0), "status": status,
            "voting": np.where(votes.notna(), "reported" , "unknown"), "board_seat": None, "board_observer": None,
            "derived": False, "as_of": m["as_of"], "ref_row": m["ref_row"].fillna(-1).astype(int),
            "ref_file": "institutional_holders.csv"}))
    if not out:
        return pd.DataFrame(columns=["owner_id", "firm_id", "kind", "beta", "votes", "gamma_rights", "status"])
    return pd.concat(out, ignore_index=True)


def group_of(entities: pd.DataFrame) -> dict[str, str]:
    """entity_id -> ownership node (its parent group if it has one)."""
    e = entities.set_index("entity_id")
    return e["parent_id"].where(e["parent_id"].notna(), e.index.to_series()).to_dict()


class Matrices:
    """Effective cash-flow and control matrices (owners x firm nodes) for each regime.

    Built once from a links frame; :meth:`without` gives the matrices with one link removed
    (pure numpy: the leave-one-out scenarios behind the drivers reuse the layout).
    """

    def __init__(self, links: pd.DataFrame, extra_nodes: list[str], group: dict[str, str]):
        inc = links[links["status"] == "included"]
        firm = inc["firm_id"].map(lambda x: group.get(x, x))
        owner_node = inc["owner_id"].map(lambda x: group.get(x, x))
        nodes = sorted(set(firm) | set(extra_nodes))
        node_set = set(nodes)
        firm_owned = (owner_node.isin(node_set) & (owner_node != firm)).to_numpy()
        ultimate = (~owner_node.isin(node_set)).to_numpy()
        owners = sorted(set(inc["owner_id"][ultimate]))
        self.nodes, self.owners = nodes, owners + [RESIDUAL + n for n in nodes]
        self.node_index = {n: i for i, n in enumerate(nodes)}
        oi = {o: i for i, o in enumerate(self.owners)}
        self._n_listed = len(owners)
        # one entry per included link: which matrix (B for ultimate owners, C for firms), row, column
        self.link_index = inc.index.to_numpy()
        self._is_c = firm_owned
        self._use = ultimate | firm_owned               # a firm's stake in itself is ignored
        self._row = np.where(firm_owned, owner_node.map(self.node_index).fillna(0).to_numpy(),
                             inc["owner_id"].map(oi).fillna(0).to_numpy()).astype(int)
        self._col = firm.map(self.node_index).to_numpy(dtype=int)
        self._beta = inc["beta"].to_numpy(dtype=float)
        self._votes = inc["votes"].fillna(0.0).to_numpy(dtype=float)
        self._gr = inc["gamma_rights"].fillna(0.0).to_numpy(dtype=float)
        self._build(np.ones(len(inc), dtype=bool))

    def relevant_links(self, market_cols: set[int]) -> list[int]:
        """Positions of the links that can change the profit weights among ``market_cols``: a
        link into a market firm or into any firm that (indirectly) holds one."""
        reach = set(market_cols)
        c_links = self._use & self._is_c
        while True:
            holders = set(self._row[c_links & np.isin(self._col, list(reach))].tolist())
            if holders <= reach:
                break
            reach |= holders
        keep = self._use & np.isin(self._col, list(reach))
        return np.flatnonzero(keep).tolist()

    def without(self, position: int) -> "Matrices":
        """A copy with the link at ``position`` (in ``link_index``) removed."""
        other = object.__new__(Matrices)
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("beta", "gamma")})
        mask = np.ones(len(self._beta), dtype=bool)
        mask[position] = False
        other._build(mask)
        return other

    def _build(self, mask: np.ndarray) -> None:
        n_nodes, n_owners = len(self.nodes), len(self.owners)
        keep_b = mask & self._use & ~self._is_c
        keep_c = mask & self._use & self._is_c

        def mat(keep, rows, values):
            m = np.zeros((rows, n_nodes))
            np.add.at(m, (self._row[keep], self._col[keep]), values[keep])
            return m

        B, C = mat(keep_b, n_owners, self._beta), mat(keep_c, n_nodes, self._beta)
        held = B.sum(axis=0) + C.sum(axis=0)
        self.overheld = [self.nodes[i] for i in np.flatnonzero(held > 1 + 1e-9)]
        res_rows = np.arange(self._n_listed, n_owners)
        diag = np.arange(n_nodes)
        B[res_rows, diag] = np.clip(1.0 - held, 0.0, None)
        votes = mat(keep_b, n_owners, self._votes).sum(axis=0) + mat(keep_c, n_nodes, self._votes).sum(axis=0)
        gr_b, gr_c = mat(keep_b, n_owners, self._gr), mat(keep_c, n_nodes, self._gr)
        gr_b[res_rows, diag] = np.clip(1.0 - votes, 0.0, None)
        listed = (B[: self._n_listed] > 0).sum(axis=0) + (C > 0).sum(axis=0)
        silent_b = np.zeros_like(B)
        silent_b[res_rows, diag] = 1.0
        full_b = (B > 0).astype(float)
        full_b[res_rows, diag] = (listed == 0).astype(float)
        control = {
            "silent": (silent_b, np.zeros_like(C)),
            "rights": (gr_b, gr_c),
            "proportional": (B, C),
            "full": (full_b, (C > 0).astype(float)),
        }
        self.beta = self._chain(B, C)
        self.gamma = {r: self._chain(*self._normalise(*control[r])) for r in REGIMES}

    @staticmethod
    def _normalise(g: np.ndarray, c: np.ndarray):
        total = g.sum(axis=0) + c.sum(axis=0)
        total[total == 0] = 1.0
        return g / total, c / total

    @staticmethod
    def _chain(b: np.ndarray, c: np.ndarray) -> np.ndarray:
        # B_eff = B (I - C)^-1 (consolidated profits / control through chains of firms)
        return np.linalg.solve((np.eye(c.shape[0]) - c).T, b.T).T


def market_layout(shares: pd.DataFrame, node_index: dict[str, int], group: dict[str, str]):
    """Market-periods of ``shares`` as padded arrays: keys (market_id, period), shares S
    (markets x width, percent) and node columns (padding points one past the last node)."""
    s = shares[shares["share_pct"].notna()].copy()
    s["node"] = s["entity_id"].map(lambda x: group.get(x, x))
    s["col"] = s["node"].map(node_index)
    if s["col"].isna().any():
        raise ValueError(f"market firms without an ownership node: {sorted(s.loc[s['col'].isna(), 'node'])}")
    s["pos"] = s.groupby(["market_id", "period"]).cumcount()
    keys = s[["market_id", "period"]].drop_duplicates().reset_index(drop=True)
    s = s.merge(keys.reset_index(names="m"), on=["market_id", "period"])
    n_m, width = len(keys), int(s["pos"].max()) + 1 if len(s) else 0
    S = np.zeros((n_m, width))
    cols = np.full((n_m, width), len(node_index))
    S[s["m"], s["pos"]] = s["share_pct"].to_numpy(float)
    cols[s["m"], s["pos"]] = s["col"].to_numpy(int)
    return keys, S, cols


def layout_mhhi(layout, mats: Matrices) -> pd.DataFrame:
    """HHI, MHHI and delta of a :func:`market_layout` under every regime."""
    keys, S, cols = layout
    out = []
    for regime in REGIMES:
        b = np.pad(mats.beta, ((0, 1), (0, 1)))          # a dummy, self-owned column for padding
        g = np.pad(mats.gamma[regime], ((0, 1), (0, 1)))
        b[-1, -1] = g[-1, -1] = 1.0
        B = np.transpose(b[:, cols], (1, 0, 2))             # (markets, owners, firms)
        G = np.transpose(g[:, cols], (1, 0, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = mhhi_many(S, np.clip(B, 0, 1), np.clip(G, 0, None))
        out.append(pd.concat([keys, res], axis=1).assign(regime=regime))
    return pd.concat(out, ignore_index=True)


def market_mhhi(shares: pd.DataFrame, mats: Matrices, group: dict[str, str]) -> pd.DataFrame:
    """HHI, MHHI and delta for every market-period in ``shares`` (columns market_id, period,
    entity_id, share_pct) under every regime, vectorised over market-periods."""
    return layout_mhhi(market_layout(shares, mats.node_index, group), mats)


def ownership_scores(shares: pd.DataFrame, stakes: pd.DataFrame, holders: pd.DataFrame,
                     entities: pd.DataFrame, run_date: dt.date, cfg: dict, top_drivers: int = 3):
    """MHHI per market-period and regime, the links used, and the stakes driving each delta.

    Ownership for each market-period is as of min(period end, run date). Returns three frames:
    ``mhhi`` (market_id, period, regime, hhi, mhhi, delta, ownership_as_of), ``links`` (as of
    the run date, with status), ``drivers`` (market_id, period, regime, rank, owner_id,
    firm_id, beta, delta_contribution: how much MHHI delta falls when that one link is removed;
    the ``top_drivers`` largest per market-period and regime, for the latest period of each
    market) and ``contributions`` (the same for every link, unranked).
    """
    group = group_of(entities)
    shares = shares[shares["share_pct"].notna()].copy()
    shares["as_of"] = period_end(shares["period"]).clip(upper=pd.Timestamp(run_date)).dt.date
    market_nodes = sorted({group.get(e, e) for e in shares["entity_id"]})
    results, drivers = [], []
    link_sets: dict[tuple, tuple] = {}  # consecutive periods with identical links share matrices
    # drivers are computed for the latest period of each market (what alerts, risk scores and the
    # report use); MHHI itself for every period
    ends = period_end(shares["period"])
    latest_mask = ends == ends.groupby(shares["market_id"]).transform("max")
    shares = shares.assign(_latest=latest_mask.to_numpy())
    for as_of, part in shares.groupby("as_of", sort=True):
        links = links_as_of(stakes, holders, entities, as_of, cfg)
        inc = links[links["status"] == "included"]
        key = tuple(sorted(zip(inc["owner_id"], inc["firm_id"], inc["beta"].round(12))))
        if key not in link_sets:
            link_sets.clear()  # link sets only grow with time: keep one, so memory stays bounded
            link_sets[key] = (links, Matrices(links, market_nodes, group))
        links, mats = link_sets[key]
        layout = market_layout(part, mats.node_index, group)
        base = layout_mhhi(layout, mats).assign(ownership_as_of=as_of)
        results.append(base)
        latest = part[part["_latest"]]
        if not top_drivers or latest.empty:
            continue
        lay_latest = market_layout(latest, mats.node_index, group)
        b = layout_mhhi(lay_latest, mats).set_index(["market_id", "period", "regime"])["delta"]
        for pos in mats.relevant_links({mats.node_index[group.get(e, e)] for e in latest["entity_id"]}):
            # one scenario per link (the same links without it), built and dropped: memory stays
            # one matrix set whatever the number of links
            d = layout_mhhi(lay_latest, mats.without(pos)).set_index(["market_id", "period", "regime"])["delta"]
            contrib = (b - d).rename("delta_contribution").reset_index()
            contrib = contrib[contrib["delta_contribution"].abs() > 1e-6]
            link = links.loc[mats.link_index[pos]]
            drivers.append(contrib.assign(owner_id=link["owner_id"], firm_id=link["firm_id"], beta=link["beta"],
                                          link_kind=link["kind"]))
    mhhi = pd.concat(results, ignore_index=True)
    drv = pd.concat(drivers, ignore_index=True) if drivers else pd.DataFrame(
        columns=["market_id", "period", "regime", "delta_contribution", "owner_id", "firm_id", "beta", "link_kind",
                 "rank"])
    contributions = drv.copy()
    if len(drv):
        drv = drv.sort_values(["market_id", "period", "regime", "delta_contribution"],
                              ascending=[True, True, True, False])
        drv["rank"] = drv.groupby(["market_id", "period", "regime"]).cumcount() + 1
        drv = drv[drv["rank"] <= top_drivers]
    else:
        drv = drv.assign(rank=pd.Series(dtype=int))
    links_now = links_as_of(stakes, holders, entities, run_date, cfg)
    return mhhi, links_now, drv.reset_index(drop=True), contributions.reset_index(drop=True)
