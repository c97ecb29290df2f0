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
* **MHHI per market-period** under five control regimes:

  ``silent``        minority stakes carry no control: each firm's residual shareholders control it;
  ``rights``        control from voting rights, board seats, observers and consultation rights
                    through ``config/ownership.yaml``;
  ``proportional``  gamma = beta for every owner;
  ``full``          every listed investor controls its investee (the upper end of the band);
  ``jurisdictional`` control as the competition authorities would class it: each link takes the
                    strongest gamma regime its control class implies in the jurisdictions that
                    review the market (``config/screens.yaml`` ``jurisdictional_mhhi``, by the
                    market's geography; riskmodels.screens: full ->
                    gamma 1 and no residual control, rights -> the rights weight, silent -> no
                    control, its votes back with the other shareholders; undisclosed votes keep
                    the rights weight).

Market firms map to their ownership node through the entity registry's parent group (AWS ->
Amazon, Google Cloud -> Alphabet). Ownership for a market-period is taken as of the period's end
(and never after the run date), so a 2022 market is not adjusted by 2026 stakes. The dates'
point-in-time link sets are scored together, as the blocks of one block-diagonal system per
chunk (:data:`CHUNK_ROWS`), not one small system at a time.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .dates import date_end, period_end

REGIMES = ("silent", "rights", "proportional", "full", "jurisdictional")
RESIDUAL = "others@"
#: stacked stake + holder rows (and market nodes) per chunk of point-in-time cuts in ownership_scores
CHUNK_ROWS = 50_000
#: padded layout cells (shares) or firm-pair cells (drivers) per batch of market-periods
BATCH_CELLS = 2_000_000
TAG_SEP = "\x1f@"   # between an id and its point-in-time cut in stacked matrices (never in an id)


def _latest(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per key, the latest row (by end date, then file row) with ``value`` present;
    ``frame`` comes from :func:`prepare_dated`, so its rows are already in that order."""
    return frame[frame[value].notna()].groupby(keys, sort=False).tail(1).drop(columns="_end")


def prepare_dated(frame: pd.DataFrame, date_col: str = "as_of") -> pd.DataFrame:
    """``frame`` with ``_end`` (end of its date's precision) and sorted by it, then file row: a
    point-in-time cut is then a prefix (done once for many :func:`links_as_of` dates)."""
    out = frame.assign(_end=date_end(frame[date_col]), ref_row=pd.to_numeric(frame["ref_row"]))
    return out.sort_values(["_end", "ref_row"], kind="stable").reset_index(drop=True)


def _prefix_len(frame: pd.DataFrame, as_of) -> int:
    """Rows of a :func:`prepare_dated` frame dated on or before ``as_of``."""
    return int(np.searchsorted(frame["_end"].to_numpy(), np.datetime64(pd.Timestamp(as_of)), side="right"))


def links_as_of(stakes: pd.DataFrame, holders: pd.DataFrame, entities: pd.DataFrame, as_of: dt.date,
                cfg: dict) -> pd.DataFrame:
    """Ownership links known on ``as_of`` (rows dated after it are ignored).

    Returns one row per (owner_id, firm_id) with ``kind`` (``stake`` or ``holder``), ``beta``
    (fraction or NaN), ``votes`` (fraction of votes, or NaN if not reported), ``gamma_rights``,
    ``status``, ``derived`` (the stake was computed by the compilers), ``as_of``, ``ref_row``.
    """
    stakes = stakes if "_end" in stakes.columns else prepare_dated(stakes)
    holders = holders if "_end" in holders.columns else prepare_dated(holders)
    return _links(stakes.iloc[: _prefix_len(stakes, as_of)], holders.iloc[: _prefix_len(holders, as_of)],
                  entities, cfg)


def _stacked_prefixes(frame: pd.DataFrame, lengths: np.ndarray) -> pd.DataFrame:
    """The prefixes ``frame.iloc[:n]`` for every n of ``lengths``, one after another, each row
    tagged with its prefix's position in ``_key`` (a point-in-time cut per date, in one frame)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    key = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(len(key)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return frame.iloc[pos].assign(_key=key).reset_index(drop=True)


def links_as_of_many(stakes: pd.DataFrame, holders: pd.DataFrame, entities: pd.DataFrame, dates, cfg: dict
                     ) -> pd.DataFrame:
    """:func:`links_as_of` for several dates at once: the links of ``dates[i]`` are the rows with
    ``_key == i`` (same columns, computed in one pass over the stacked point-in-time cuts)."""
    stakes = stakes if "_end" in stakes.columns else prepare_dated(stakes)
    holders = holders if "_end" in holders.columns else prepare_dated(holders)
    s = _stacked_prefixes(stakes, [_prefix_len(stakes, d) for d in dates])
    h = _stacked_prefixes(holders, [_prefix_len(holders, d) for d in dates])
    return _links(s, h, entities, cfg, by=["_key"])


def _links(s: pd.DataFrame, h: pd.DataFrame, entities: pd.DataFrame, cfg: dict, by: list[str] | None = None
           ) -> pd.DataFrame:
    """The links of :func:`links_as_of` from point-in-time cuts of the prepared stake and holder
    frames; ``by``: further key columns (``_key`` for stacked cuts) that the links are kept apart by."""
    by = list(by or [])
    rights = cfg["rights"]
    cont = re.compile(cfg["contingent_pattern"])
    kinds = entities.set_index("entity_id")["kind"]
    out = []

    if len(s):
        s = s.assign(ref_row=pd.to_numeric(s["ref_row"]))
        pair = by + ["investor_id", "investee_id"]
        last = _latest(s.assign(_any=1), pair, "_any").drop(columns="_any")
        stake = _latest(s, pair, "stake_pct")[
            pair + ["stake_pct", "as_of", "notes", "ref_row"]].rename(
            columns={"as_of": "stake_as_of", "notes": "stake_notes", "ref_row": "stake_ref_row"})
        m = last.drop(columns=["stake_pct"]).merge(stake, on=pair, how="left")
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
            "consultation": m["consultation_or_info_rights"],
            "derived": m["stake_notes"].fillna("").str.contains("DERIVED"),
            "as_of": m["stake_as_of"].fillna(m["as_of"]),
            "ref_row": m["stake_ref_row"].fillna(m["ref_row"]).astype(int),
            "ref_file": "stake_rights.csv", **{c: m[c] for c in by}}))

    if len(h):
        h = h.assign(ref_row=pd.to_numeric(h["ref_row"]))
        keys = by + ["company_id", "holder_id"]
        econ = _latest(h, keys, "pct_shares_outstanding")[keys + ["pct_shares_outstanding", "as_of", "ref_row",
                                                                          "holder_type"]
                                                                  + (["ref_file"] if "ref_file" in h else [])]
        if "ref_file" in econ:  # the file of the row the stake comes from, else of the pair's last row
            econ = econ.rename(columns={"ref_file": "_econ_file"})
        vote = _latest(h, keys, "pct_voting_power")[keys + ["pct_voting_power"]]
        pairs = h[keys + ["holder_type"] + (["ref_file"] if "ref_file" in h else [])].drop_duplicates(keys, keep="last")
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
            "ref_file": (m["_econ_file"].fillna(m["ref_file"]) if "_econ_file" in m
                         else pd.Series("institutional_holders.csv", index=m.index)).fillna("institutional_holders.csv"),
            **{c: m[c] for c in by}}))
    if not out:
        return pd.DataFrame(columns=["owner_id", "firm_id", "kind", "beta", "votes", "gamma_rights", "status", *by])
    links = pd.concat(out, ignore_index=True)
    if cfg.get("jurisdictional"):
        from .screens import jurisdictional_weights

        links = jurisdictional_weights(links, cfg["jurisdictional"])
    return links


def to_group(ids: pd.Series, group: dict[str, str]) -> pd.Series:
    """Entity ids -> their ownership node (parent group); ids not in ``group`` stay as they are."""
    return ids.map(group).fillna(ids)


def group_of(entities: pd.DataFrame) -> dict[str, str]:
    """entity_id -> ownership node (its parent group if it has one)."""
    e = entities.set_index("entity_id")
    return e["parent_id"].where(e["parent_id"].notna(), e.index.to_series()).to_dict()


def _tagged(ids: pd.Series, tags: pd.Series) -> pd.Series:
    """``ids + TAG_SEP + tags`` with one string built per distinct (id, tag), not per row."""
    codes, uniq = pd.factorize(ids, use_na_sentinel=False)
    tcodes, tuniq = pd.factorize(tags.astype(str), use_na_sentinel=False)
    combo, inverse = np.unique(codes.astype(np.int64) * len(tuniq) + tcodes, return_inverse=True)
    # the labels joined per column (Arrow string kernels), not one f-string per label
    idp = pd.Series(np.asarray(uniq, dtype=object).astype(str), dtype="string[pyarrow]")  # as f"{id}" would
    tgp = pd.Series(np.asarray(tuniq, dtype=object), dtype="string[pyarrow]")
    labels = (idp.take(combo // len(tuniq)).reset_index(drop=True) + TAG_SEP
              + tgp.take(combo % len(tuniq)).reset_index(drop=True)).to_numpy(dtype=object)
    return pd.Series(labels[inverse.ravel()], index=ids.index, dtype=object)


def node_ids(links: pd.DataFrame, group: dict[str, str], tag: str | None = None) -> pd.DataFrame:
    """Each link's firm node, owner node (parent groups) and owner id, as :class:`Matrices` names
    them. ``tag``: block-diagonal matrices, the links of each value of that column (a
    point-in-time cut) form their own owners and nodes, named "<id><TAG_SEP><tag>"."""
    firm, owner_node, owner_id = to_group(links["firm_id"], group), to_group(links["owner_id"], group), links["owner_id"]
    if tag is not None and len(links):
        t = links[tag]
        firm, owner_node, owner_id = _tagged(firm, t), _tagged(owner_node, t), _tagged(owner_id, t)
    return pd.DataFrame({"firm": firm, "owner_node": owner_node, "owner_id": owner_id}, index=links.index)


class Matrices:
    """Effective cash-flow and control matrices (owners x firm nodes) for each regime, sparse.

    Built once from a links frame. Pre-chain matrices hold one cell per (owner, firm) link plus
    each firm's residual owner; chains through firm-held firms use ``X = (I - C)^-1`` (a sparse
    Neumann series, exact for acyclic holdings; a dense inverse of the firms in cycles
    otherwise). Attributes: ``beta`` (cash flow, owners x nodes), ``gamma[regime]`` (control),
    ``X_beta`` / ``X_gamma[regime]`` (nodes x nodes chains), ``K[regime]`` = gamma' beta
    (nodes x nodes: the numerators of the O'Brien-Salop profit weights), all scipy CSR.
    """

    def __init__(self, links: pd.DataFrame, extra_nodes: list[str], group: dict[str, str], tag: str | None = None,
                 ids: pd.DataFrame | None = None):
        inc = links[links["status"] == "included"]
        # ``ids``: :func:`node_ids` of ``links`` computed once for several Matrices of its subsets
        ids = node_ids(inc, group, tag) if ids is None else ids.loc[inc.index]
        firm, owner_node, owner_id = ids["firm"], ids["owner_node"], ids["owner_id"]
        nodes = sorted(set(firm) | set(extra_nodes))
        node_set = set(nodes)
        firm_owned = (owner_node.isin(node_set) & (owner_node != firm)).to_numpy()
        ultimate = (~owner_node.isin(node_set)).to_numpy()
        owners = sorted(set(owner_id[ultimate]))
        self.nodes, self.owners = nodes, owners + [RESIDUAL + n for n in nodes]
        self.node_index = {n: i for i, n in enumerate(nodes)}
        oi = {o: i for i, o in enumerate(self.owners)}
        self._n_listed = len(owners)
        use = ultimate | firm_owned                       # a firm's stake in itself is ignored
        self.link_index = inc.index.to_numpy()[use]        # links that enter the matrices
        self.is_c = firm_owned[use]
        self.row = np.where(firm_owned, owner_node.map(self.node_index).fillna(0).to_numpy(),
                            owner_id.map(oi).fillna(0).to_numpy()).astype(np.int64)[use]
        self.col = firm.map(self.node_index).to_numpy(dtype=np.int64)[use]
        self.link_beta = inc["beta"].to_numpy(dtype=float)[use]
        self.link_votes = inc["votes"].fillna(0.0).to_numpy(dtype=float)[use]
        self.link_gr = inc["gamma_rights"].fillna(0.0).to_numpy(dtype=float)[use]
        # jurisdictional: per-link weight, votes kept with the holder, and majority control (links
        # without the columns - a what-if's new link, a synthetic world - count as in ``rights``)
        gj = inc["gamma_jurisdictional"] if "gamma_jurisdictional" in inc else pd.Series(np.nan, index=inc.index)
        vj = inc["votes_jurisdictional"] if "votes_jurisdictional" in inc else pd.Series(np.nan, index=inc.index)
        fj = inc["full_jurisdictional"] if "full_jurisdictional" in inc else pd.Series(False, index=inc.index)
        self.link_gj = pd.to_numeric(gj, errors="coerce").fillna(inc["gamma_rights"]).fillna(0.0).to_numpy(float)[use]
        self.link_vj = pd.to_numeric(vj, errors="coerce").fillna(inc["votes"]).fillna(0.0).to_numpy(float)[use]
        self.link_fj = fj.astype("boolean").fillna(False).to_numpy(dtype=bool)[use]
        self._build()

    # -- pre-chain columns ------------------------------------------------------------------
    def _cells(self):
        """Links aggregated to matrix cells: (is_c, row, col) -> summed beta; cell id per link."""
        n_nodes = len(self.nodes)
        key = (self.is_c.astype(np.int64) * (len(self.owners) + n_nodes) + self.row) * n_nodes + self.col
        uniq, cell = np.unique(key, return_inverse=True)
        cell_beta = np.bincount(cell, self.link_beta, len(uniq))
        first = np.zeros(len(uniq), dtype=np.int64)
        first[cell[::-1]] = np.arange(len(cell))[::-1]
        return cell, cell_beta, first

    def _build(self) -> None:
        n_nodes, n_owners = len(self.nodes), len(self.owners)
        col, b, c = self.col, ~self.is_c, self.is_c
        self.cell, cell_beta, first = self._cells()
        self.cell_beta = cell_beta
        cell_pos = cell_beta > 0
        cell_is_c, cell_col = self.is_c[first], self.col[first]
        held = np.bincount(col, self.link_beta, n_nodes)
        self.overheld = [self.nodes[i] for i in np.flatnonzero(held > 1 + 1e-9)]
        votes = np.bincount(col, self.link_votes, n_nodes)
        gr_total = np.bincount(col, self.link_gr, n_nodes)
        vj_total = np.bincount(col, self.link_vj, n_nodes)
        gj_total = np.bincount(col, self.link_gj, n_nodes)
        fj_count = np.bincount(col, self.link_fj.astype(float), n_nodes)
        listed = np.bincount(cell_col, cell_pos.astype(float), n_nodes)
        res_rows = np.arange(self._n_listed, n_owners)
        diag = np.arange(n_nodes)
        self.column = {  # per regime: raw residual and column total (0 -> 1)
            "beta": (np.clip(1.0 - held, 0.0, None), np.ones(n_nodes)),
            "proportional": (np.clip(1.0 - held, 0.0, None), None),
            "rights": (np.clip(1.0 - votes, 0.0, None), None),
            "full": ((listed == 0).astype(float), None),
            "silent": (np.ones(n_nodes), None),
            # a majority controller leaves no control to the other shareholders
            "jurisdictional": (np.where(fj_count > 0, 0.0, np.clip(1.0 - vj_total, 0.0, None)), None),
        }
        raw = {"proportional": held, "rights": gr_total, "full": listed, "silent": np.zeros(n_nodes),
               "jurisdictional": gj_total}
        for r in ("proportional", "rights", "full", "silent", "jurisdictional"):
            resid = self.column[r][0]
            total = raw[r] + resid
            self.column[r] = (resid, np.where(total == 0, 1.0, total))
        self.held, self.votes_total, self.gr_total, self.listed = held, votes, gr_total, listed
        self.vj_total, self.gj_total, self.fj_count = vj_total, gj_total, fj_count

        def pair(values_b, rows_b, cols_b, values_c, rows_c, cols_c, resid, total):
            g = sp.coo_matrix((np.concatenate([values_b, resid]) / total[np.concatenate([cols_b, diag])],
                               (np.concatenate([rows_b, res_rows]), np.concatenate([cols_b, diag]))),
                              shape=(n_owners, n_nodes)).tocsr()          # tocsr sums duplicate cells
            cm = sp.coo_matrix((values_c / total[cols_c], (rows_c, cols_c)), shape=(n_nodes, n_nodes)).tocsr()
            return g, cm

        ib, ic = np.flatnonzero(b), np.flatnonzero(c)
        cb, cc = np.flatnonzero(~cell_is_c), np.flatnonzero(cell_is_c)
        pre = {
            "beta": pair(self.link_beta[ib], self.row[ib], col[ib], self.link_beta[ic], self.row[ic], col[ic],
                         *self.column["beta"]),
            "proportional": pair(self.link_beta[ib], self.row[ib], col[ib], self.link_beta[ic], self.row[ic], col[ic],
                                 *self.column["proportional"]),
            "rights": pair(self.link_gr[ib], self.row[ib], col[ib], self.link_gr[ic], self.row[ic], col[ic],
                           *self.column["rights"]),
            "full": pair(cell_pos[cb].astype(float), self.row[first[cb]], cell_col[cb], cell_pos[cc].astype(float),
                         self.row[first[cc]], cell_col[cc], *self.column["full"]),
            "silent": pair(np.zeros(0), np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros(0, int),
                           np.zeros(0, int), *self.column["silent"]),
            "jurisdictional": pair(self.link_gj[ib], self.row[ib], col[ib], self.link_gj[ic], self.row[ic], col[ic],
                                   *self.column["jurisdictional"]),
        }
        chains = {}
        self.eff, self.X = {}, {}
        for r, (g, cm) in pre.items():
            key = (cm.indices.tobytes(), cm.indptr.tobytes(), cm.data.tobytes())
            if key not in chains:
                chains[key] = _chain_inverse(cm)
            self.X[r] = chains[key]
            self.eff[r] = (g @ self.X[r]).tocsr()
        self.eff["beta"].data = np.clip(self.eff["beta"].data, 0.0, 1.0)
        for r in REGIMES:
            self.eff[r].data = np.clip(self.eff[r].data, 0.0, None)
        self.beta, self.X_beta = self.eff["beta"], self.X["beta"]
        self.gamma = {r: self.eff[r] for r in REGIMES}
        self.X_gamma = {r: self.X[r] for r in REGIMES}
        # K_pp = sum_o gamma_op beta_op per node and regime, read by every market batch; K itself
        # (nodes x nodes, millions of cells when index funds hold most firms) only when read
        self.K_diag = {r: np.asarray(self.gamma[r].multiply(self.beta).sum(axis=0)).ravel() for r in REGIMES}
        self._K = None

    @property
    def K(self) -> dict:
        """``K[regime]`` = gamma' beta (nodes x nodes, CSR with sorted indices), built on first use:
        MHHI needs only its diagonal (:func:`layout_mhhi`), the drivers and what-ifs read cells."""
        if self._K is None:
            bt = self.beta.tocsc()
            self._K = {r: (self.gamma[r].T.tocsr() @ bt).tocsr() for r in REGIMES}
            for m in self._K.values():
                m.sort_indices()
        return self._K


def _chain_inverse(c) -> "sp.csr_matrix":
    """``(I - C)^-1`` for a sparse firm-to-firm holdings matrix (nodes x nodes, column sums <= 1).

    Neumann series I + C + C^2 + ... (exact after the longest chain when holdings are acyclic;
    geometric for cycles of partial stakes). If it has not converged after 200 terms, the firms
    that take part in holdings are inverted densely."""
    n = c.shape[0]
    eye = sp.identity(n, format="csr")
    if c.nnz == 0:
        return eye
    x, term = eye.copy(), c.copy()
    for _ in range(200):
        term.data[np.abs(term.data) < 1e-17] = 0.0
        term.eliminate_zeros()
        if term.nnz == 0:
            return x.tocsr()
        x = x + term
        if np.abs(term.data).max() < 1e-15:
            return x.tocsr()
        term = (term @ c).tocsr()
    active = np.union1d(c.tocoo().row, c.tocoo().col)
    sub = c[active][:, active].toarray()
    inv = np.linalg.inv(np.eye(len(active)) - sub) - np.eye(len(active))
    inv[np.abs(inv) < 1e-17] = 0.0
    r, q = np.nonzero(inv)
    return (eye + sp.csr_matrix((inv[r, q], (active[r], active[q])), shape=(n, n))).tocsr()


try:  # the C routine behind scipy's element-wise CSR reads, without the per-call index checks
    from scipy.sparse._sparsetools import csr_sample_values as _csr_sample_values
except ImportError:  # pragma: no cover - another scipy layout: the public indexing path below
    _csr_sample_values = None


def _at(m, rows, cols) -> np.ndarray:
    """Values of sparse ``m`` at (rows, cols); a negative row or column reads as 0.

    CSR matrices are read by scipy's own ``csr_sample_values`` (what ``m[rows, cols]`` calls
    after validating and broadcasting its indices: ~40 ns an element, 4-10x the read itself at
    millions of reads); the bounds are checked here, once per call."""
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    ok = (rows >= 0) & (cols >= 0)
    out = np.zeros(len(rows))
    if not ok.any():
        return out
    r, c = (rows, cols) if ok.all() else (rows[ok], cols[ok])
    if _csr_sample_values is not None and getattr(m, "format", None) == "csr" and m.dtype == np.float64:
        if r.max() >= m.shape[0] or c.max() >= m.shape[1]:
            raise IndexError(f"cell outside a {m.shape} matrix")
        idx = m.indices.dtype
        val = np.empty(len(r))
        _csr_sample_values(m.shape[0], m.shape[1], m.indptr, m.indices, m.data, len(r), r.astype(idx), c.astype(idx), val)
    else:
        val = np.asarray(m[r, c]).ravel()
    out[ok] = val
    return out


def market_layout(shares: pd.DataFrame, node_index: dict[str, int], group: dict[str, str], tag: str | None = None):
    """Market-periods of ``shares`` as padded arrays: keys (market_id, period), shares S
    (markets x width, percent) and node columns (padding points one past the last node).
    ``tag``: the column naming each row's block of stacked :class:`Matrices`."""
    s = shares[shares["share_pct"].notna()].copy()
    s["node"] = to_group(s["entity_id"], group)
    if tag is not None:
        s["node"] = s["node"] + TAG_SEP + s[tag].astype(str)
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
    """HHI, MHHI and delta of a :func:`market_layout` under every regime (points 0-10,000).

    delta = sum over p != q of s_p s_q K_pq / K_pp (O'Brien & Salop 2000), summed in owner
    space: K = gamma' beta, so sum_q s_q K_pq = (gamma' (beta s))_p and delta = sum_o
    (gamma w)_o (beta s)_o - sum_p s_p^2 [K_pp > 0] with w_p = s_p / K_pp (0 where K_pp = 0: a
    firm nobody controls gets a zero profit-weight row). Two sparse products per regime, no cell
    of K read."""
    keys, S, cols = layout
    n_nodes, n_m = len(mats.nodes), len(keys)
    h = (S ** 2).sum(axis=1)
    mi, pi = np.nonzero(cols < n_nodes)
    node, s = cols[mi, pi], S[mi, pi]
    shares = sp.csc_matrix((s, (node, mi)), shape=(n_nodes, n_m))
    held = (mats.beta @ shares).tocsr()                                # owners x markets: (beta s)_o
    out = []
    for regime in REGIMES:
        kpp = mats.K_diag[regime][node]
        if (kpp <= 0).any():
            warnings.warn("some firms are controlled by nobody: their profit-weight rows are zero", RuntimeWarning)
        ctl = kpp > 0
        w = np.divide(s, kpp, out=np.zeros_like(s), where=ctl)
        weighted = (mats.gamma[regime] @ sp.csc_matrix((w, (node, mi)), shape=(n_nodes, n_m))).tocsr()
        d = np.asarray(weighted.multiply(held).sum(axis=0)).ravel() - np.bincount(mi, np.where(ctl, s * s, 0.0), n_m)
        out.append(keys.assign(hhi=h, mhhi=h + d, delta=d, regime=regime))
    return pd.concat(out, ignore_index=True)


def market_mhhi(shares: pd.DataFrame, mats: Matrices, group: dict[str, str]) -> pd.DataFrame:
    """HHI, MHHI and delta for every market-period in ``shares`` (columns market_id, period,
    entity_id, share_pct) under every regime, vectorised over market-periods."""
    return layout_mhhi(market_layout(shares, mats.node_index, group), mats)


def _removal_terms(mats: Matrices, regime: str):
    """For every link, how removing it changes its firm's normalised pre-chain column.

    Returns (alpha, point, resid) per link: the column scales by (1 + alpha), the link's own
    cell moves by ``point`` and the residual owner's by ``resid`` (see :func:`link_contributions`).
    """
    k = mats.col
    if regime == "silent":
        z = np.zeros(len(k))
        return z, z, z
    if regime == "beta":
        held = mats.held[k] - mats.link_beta
        resid_new = np.clip(1.0 - held, 0.0, None)
        return np.zeros(len(k)), -mats.link_beta, resid_new - mats.column["beta"][0][k]
    resid, total = mats.column[regime]
    if regime == "proportional":
        x = mats.link_beta
        new_resid = np.clip(1.0 - (mats.held[k] - x), 0.0, None)
        new_total = mats.held[k] - x + new_resid
    elif regime == "rights":
        x = mats.link_gr
        new_resid = np.clip(1.0 - (mats.votes_total[k] - mats.link_votes), 0.0, None)
        new_total = mats.gr_total[k] - x + new_resid
    elif regime == "jurisdictional":
        x = mats.link_gj
        still_full = mats.fj_count[k] - mats.link_fj > 0
        new_resid = np.where(still_full, 0.0, np.clip(1.0 - (mats.vj_total[k] - mats.link_vj), 0.0, None))
        new_total = mats.gj_total[k] - x + new_resid
    else:  # full: the cell stops counting when nothing else fills it
        cb = mats.cell_beta[mats.cell]
        x = ((cb > 0) & (cb - mats.link_beta <= 0)).astype(float)
        listed = mats.listed[k] - x
        new_resid = (listed == 0).astype(float)
        new_total = listed + new_resid
    new_total = np.where(new_total == 0, 1.0, new_total)
    return total[k] / new_total - 1.0, -x / new_total, (new_resid - resid[k]) / new_total


def link_contributions(layout, mats: Matrices) -> pd.DataFrame:
    """Leave-one-out MHHI-delta contribution of every link, per market row of ``layout`` and regime.

    Removing a link changes one column k of the pre-chain matrices, so the effective matrices
    change by a rank-one term ``v r_k`` (Sherman & Morrison 1950 on ``(I - C)^-1``): the new profit-weight
    numerators of a market are K + r^g_k (v'B) + (G'u) r^b_k + (v.u) r^g_k r^b_k, read from the
    sparse matrices without rebuilding them. Only markets holding a firm that the link reaches
    (directly or through firm-held firms) are touched. Returns link position (in
    ``mats.link_index``), market row, regime and ``delta_contribution`` (base delta minus the delta
    without the link, points), rows with |contribution| > 1e-6.
    """
    keys, S, cols = layout
    n_nodes, n_links = len(mats.nodes), len(mats.col)
    empty = pd.DataFrame({"link": pd.Series(dtype=int), "m": pd.Series(dtype=int), "regime": pd.Series(dtype=str),
                          "delta_contribution": pd.Series(dtype=float)})
    if n_links == 0 or len(keys) == 0:
        return empty
    # which market rows each link can reach: reach(k) = pattern of row k of any chain matrix
    reach = sum((abs(x) > 0).astype(np.int8) for x in mats.X.values()).tocsr()
    valid = cols < n_nodes
    mi, pi = np.nonzero(valid)
    incidence = sp.csr_matrix((np.ones(len(mi), dtype=np.int8), (cols[mi, pi], mi)), shape=(n_nodes, len(keys)))
    lm = (reach[mats.col] @ incidence).tocoo()
    order = np.lexsort((lm.col, lm.row))
    link, mrow = lm.row.astype(np.int64)[order], lm.col.astype(np.int64)[order]
    nfirm = valid.sum(axis=1)
    per = nfirm[mrow].astype(np.int64) ** 2
    terms = {r: _removal_terms(mats, r) for r in ("beta",) + REGIMES}
    # each market's own K block (markets x width x width) per regime: pairs then read it with numpy
    ci = np.minimum(cols, n_nodes - 1)
    kblock, base = {}, {}
    off_diag = ~np.eye(S.shape[1], dtype=bool)[None]
    for regime in REGIMES:
        vals = _at(mats.K[regime], np.repeat(ci, ci.shape[1], axis=1).ravel(), np.tile(ci, (1, ci.shape[1])).ravel())
        kb = kblock[regime] = vals.reshape(len(ci), ci.shape[1], ci.shape[1])
        diag = np.diagonal(kb, axis1=1, axis2=2)[:, :, None]
        kappa = np.divide(kb, diag, out=np.zeros_like(kb), where=(diag > 0) & off_diag)
        base[regime] = np.einsum("mp,mpq,mq->m", S, kappa, S)       # each market's delta, once
    # chunks of about two million firm pairs keep memory flat whatever the number of links
    bounds = np.searchsorted(np.cumsum(per), np.arange(1, int(per.sum() // 2_000_000) + 2) * 2_000_000)
    out, lo = [], 0
    for hi in np.unique(np.minimum(bounds + 1, len(link))):
        if hi > lo:
            out.append(_contrib_chunk(mats, terms, S, cols, nfirm, link[lo:hi], mrow[lo:hi], kblock, base))
        lo = hi
    return pd.concat(out, ignore_index=True) if out else empty


def _contrib_chunk(mats: Matrices, terms: dict, S, cols, nfirm, link, mrow, kblock, base) -> pd.DataFrame:
    """:func:`link_contributions` for the (link, market row) pairs given.

    Three levels keep the sparse reads few: per (link, market) row, per firm position of that
    market, and per ordered firm pair (only numpy gathers at that level)."""
    n_r = len(link)
    nf = nfirm[mrow].astype(np.int64)
    start = np.cumsum(nf) - nf
    # positions: one per firm of each (link, market) row
    r = np.repeat(np.arange(n_r), nf)
    t = np.arange(len(r)) - start[r]
    n, s = cols[mrow[r], t], S[mrow[r], t]
    # ordered pairs (t1 != t2) of positions within each row
    per = nf ** 2
    e = np.repeat(np.arange(n_r), per)
    offs = np.arange(len(e)) - np.repeat(np.cumsum(per) - per, per)
    t1, t2 = offs // nf[e], offs % nf[e]
    off = t1 != t2
    e, t1, t2 = e[off], t1[off], t2[off]
    P1, P2 = start[e] + t1, start[e] + t2
    w = s[P1] * s[P2]
    # per (link, market) row
    k, o = mats.col[link], np.where(mats.is_c[link], -1, mats.row[link])
    h = np.where(mats.is_c[link], mats.row[link], -1)
    res = mats._n_listed + k
    B = mats.beta
    # cash-flow change u = (pt_b a2 + rho_b e_res) / den_b, a2 = e_o (owner link) or B[:, h] (firm link)
    _, pt_b, rho_b = (a[link] for a in terms["beta"])
    den_b = 1.0 - pt_b * _at(mats.X_beta, k, h)
    reads = _RowReads(mrow, nf, cols, r, t)
    xb = reads.read(mats.X_beta, "k", k)
    out = []
    for regime in REGIMES:
        G, K, Xg = mats.gamma[regime], mats.K[regime], mats.X_gamma[regime]
        alpha, pt, rho = (a[link] for a in terms[regime])
        den = 1.0 - (alpha * (_at(Xg, k, k) - 1.0) + pt * _at(Xg, k, h))
        # v = (alpha G[:, k] + pt a1 + rho e_res) / den, a1 = e_o (owner link) or G[:, h] (firm link)
        vu = (alpha * (pt_b * np.where(h >= 0, _at(K, k, h), _at(G, o, k)) + rho_b * _at(G, res, k))
              + pt * (pt_b * np.where(h >= 0, _at(K, h, h), 1.0) + rho_b * np.where(h >= 0, _at(G, res, h), 0.0))
              + rho * (pt_b * np.where(h >= 0, _at(B, res, h), 0.0) + rho_b)) / (den * den_b)
        # per position n: (v'B)[n], (G'u)[n], X_g[k, n]
        hr = h[r]
        a1 = np.where(hr >= 0, reads.read(K, "h", h), reads.read(B, "o", o))
        vb = (alpha[r] * reads.read(K, "k", k) + pt[r] * a1 + rho[r] * reads.read(B, "res", res)) / den[r]
        a2 = np.where(hr >= 0, reads.read(K, "h", h, transpose=True), reads.read(G, "o", o))
        gu = (pt_b[r] * a2 + rho_b[r] * reads.read(G, "res", res)) / den_b[r]
        xg = reads.read(Xg, "k", k)
        kdiag_new = mats.K_diag[regime][n] + xg * vb + xb * gu + xg * xb * vu[r]
        k_new = kblock[regime][mrow[e], t1, t2] + xg[P1] * vb[P2] + xb[P2] * gu[P1] + xg[P1] * xb[P2] * vu[e]
        d1 = kdiag_new[P1]
        new = np.bincount(e, w * np.divide(k_new, d1, out=np.zeros_like(k_new), where=d1 > 1e-12), n_r)
        c = base[regime][mrow] - new
        keep = np.abs(c) > 1e-6
        out.append(pd.DataFrame({"link": link[keep], "m": mrow[keep], "regime": regime, "delta_contribution": c[keep]}))
    return pd.concat(out, ignore_index=True)


class _RowReads:
    """Sparse reads ``mat[row, n]`` for every firm position (r, t) of a :func:`_contrib_chunk`
    (n: the t-th firm of row r's market), one read per distinct (row, market), then gathered:
    the links of one firm share its rows, so most (link, market) rows repeat one; a matrix read
    again under the same rows (B in every regime) is read once."""

    def __init__(self, mrow, nf, cols, r, t):
        self.mrow, self.nf, self.cols, self.r, self.t = mrow, nf, cols, r, t
        self._plans, self._values = {}, {}    # values keep their matrix, so its id is not reused

    def _plan(self, name: str, rows: np.ndarray):
        if name not in self._plans:
            # negative rows (no such row: reads as 0) keep negative keys, apart from the others
            key = rows.astype(np.int64) * (int(self.mrow.max()) + 1) + self.mrow
            _, first, inv = np.unique(key, return_index=True, return_inverse=True)
            nf = self.nf[first]
            start = np.cumsum(nf) - nf
            ur = np.repeat(np.arange(len(first)), nf)
            ut = np.arange(len(ur)) - start[ur]
            self._plans[name] = (rows[first][ur], self.cols[self.mrow[first][ur], ut], start[inv.ravel()][self.r] + self.t)
        return self._plans[name]

    def read(self, mat, name: str, rows: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``mat[rows[r], n]`` per position (``mat[n, rows[r]]`` with ``transpose``); ``name``
        names ``rows`` (one plan per name)."""
        key = (id(mat), name, transpose)      # cash flow B and shared chain matrices recur across regimes
        if key not in self._values:
            row, col, gather = self._plan(name, rows)
            self._values[key] = (mat, (_at(mat, col, row) if transpose else _at(mat, row, col))[gather])
        return self._values[key][1]


def _batches(shares: pd.DataFrame, power: int, budget: int | None = None):
    """``shares`` split into batches of whole market-periods for :func:`market_layout`: market-
    periods of similar firm counts n (the same power-of-two bucket, so padding at most doubles a
    row) and at most ``budget`` cells of n ** ``power`` per batch (1: the layout's shares; 2: the
    firm-pair blocks the drivers read). One batch at the snapshot; bounded memory at scale."""
    budget = budget or BATCH_CELLS
    keys = ["market_id", "period"]
    n = shares.groupby(keys, sort=False)["entity_id"].transform("size").to_numpy()
    if len(shares) == 0:
        return
    cost = pd.Series(n.astype(np.float64) ** power)
    first = ~shares.duplicated(keys).to_numpy()                 # count each market-period once
    bucket = np.floor(np.log2(np.maximum(n, 1))).astype(np.int64)
    order = np.lexsort((np.arange(len(n)), bucket))
    run = np.zeros(len(n))
    per_bucket = pd.Series(np.where(first, cost, 0.0)[order]).groupby(bucket[order]).cumsum().to_numpy()
    run[order] = per_bucket
    # a market-period's rows share its running cost position: take it from its first row
    pos = pd.Series(np.where(first, run, np.nan)).groupby(
        pd.Series(shares.groupby(keys, sort=False).ngroup().to_numpy())).transform("first").to_numpy()
    batch = bucket * (1 << 32) + (np.maximum(pos - 1, 0) // budget).astype(np.int64)
    for _, part in shares.groupby(batch, sort=True):
        yield part


def _as_of(shares: pd.DataFrame, run_date: dt.date) -> pd.Series:
    """Each share row's ownership date: its period's end, never after the run date."""
    return period_end(shares["period"]).clip(upper=pd.Timestamp(run_date)).dt.date


def _memo_digest(shares, stakes, holders, entities, run_date, cfg, top_drivers, geography, settings) -> str | None:
    """The :mod:`riskmodels.memo` record name of one :func:`ownership_scores` call, or None
    when its inputs are larger than ``memo.max_input_rows`` (config/storage.yaml). The result
    depends on dates only through each date's point-in-time cut (how many stake and holder rows
    are dated by then), so the cuts, not the dates, enter the key: the next day with unchanged
    inputs reads the same record (``ownership_as_of`` is set again from the day's dates)."""
    from . import memo
    from .storage import storage_config

    limit = int((storage_config(settings).get("memo") or {}).get("max_input_rows", 0))
    if len(shares) + len(stakes) + len(holders) > limit:
        return None
    ends = np.asarray(pd.to_datetime(_as_of(shares, run_date)), dtype="datetime64[ns]")
    cut = lambda f, t: np.searchsorted(f["_end"].to_numpy(dtype="datetime64[ns]"), t, side="right")  # noqa: E731
    now = np.datetime64(pd.Timestamp(run_date), "ns")
    return memo.key("ownership_scores", memo.frame_digest(shares[["market_id", "period", "entity_id", "share_pct"]]),
                    memo.frame_digest(pd.DataFrame({"ns": cut(stakes, ends), "nh": cut(holders, ends)})),
                    [int(cut(stakes, now)), int(cut(holders, now))],
                    memo.frame_digest(stakes.drop(columns="_end")), memo.frame_digest(holders.drop(columns="_end")),
                    memo.frame_digest(entities), json.dumps(cfg, sort_keys=True, default=str), top_drivers,
                    None if geography is None else sorted(pd.Series(geography).astype(str).items()),
                    memo.code_digest("ownership.py", "screens.py", "dates.py"))


def ownership_scores(shares: pd.DataFrame, stakes: pd.DataFrame, holders: pd.DataFrame,
                     entities: pd.DataFrame, run_date: dt.date, cfg: dict, top_drivers: int = 3,
                     geography=None, memo_settings=None):
    """MHHI per market-period and regime, the links used, and the stakes driving each delta.

    Ownership for each market-period is as of min(period end, run date). Returns three frames:
    ``mhhi`` (market_id, period, regime, hhi, mhhi, delta, delta_common, delta_strategic,
    ownership_as_of, jurisdictions; the two deltas from the holder links alone and the stake
    links alone; ``jurisdictions``: on ``jurisdictional`` rows, the jurisdictions whose control
    classes that market's links took), ``links`` (as of the run date, with status; their
    jurisdictional columns from the default jurisdictions), ``drivers`` (market_id, period, regime,
    rank, owner_id, firm_id, beta, delta_contribution: how much MHHI delta falls when that one link
    is removed; the ``top_drivers`` largest per market-period and regime, for the latest period of
    each market) and ``contributions`` (the same for every link, unranked).

    ``geography`` (market_id -> geography) with ``cfg["jurisdictional"]["by_geography"]``: each
    market's jurisdictional regime reads the classes of its own jurisdictions
    (:func:`riskmodels.screens.market_jurisdictions`); the markets of each jurisdiction set are
    scored in a pass of their own (a market is scored once; the other regimes do not depend on it).

    ``memo_settings``: keep the result under that storage root (:mod:`riskmodels.memo`, keyed by
    every input: :func:`_memo_digest`) and read it back when the inputs recur.
    """
    shares = shares[shares["share_pct"].notna()].copy()
    stakes, holders = prepare_dated(stakes), prepare_dated(holders)
    digest = None
    if memo_settings is not None:
        from . import memo

        digest = _memo_digest(shares, stakes, holders, entities, run_date, cfg, top_drivers, geography, memo_settings)
        hit = memo.get("ownership_scores", digest, memo_settings) if digest else None
        if hit is not None:
            mhhi = hit["mhhi"]
            as_of = shares.assign(_a=_as_of(shares, run_date)).drop_duplicates(["market_id", "period"]).set_index(
                ["market_id", "period"])["_a"]
            mhhi["ownership_as_of"] = as_of.reindex(pd.MultiIndex.from_frame(mhhi[["market_id", "period"]])).to_numpy()
            return tuple(hit[k] for k in _MEMO_PARTS)
    out = _ownership_scores(shares, stakes, holders, entities, run_date, cfg, top_drivers, geography)
    if digest:
        memo.put("ownership_scores", digest, dict(zip(_MEMO_PARTS, out)), memo_settings)
    return out


_MEMO_PARTS = ("mhhi", "links", "drivers", "contributions")


def _ownership_scores(shares, stakes, holders, entities, run_date, cfg, top_drivers, geography):
    """:func:`ownership_scores` on the filtered shares and prepared stake and holder frames."""
    jcfg = cfg.get("jurisdictional")
    if jcfg:
        from .screens import market_jurisdictions

        sets = market_jurisdictions(shares["market_id"], geography, jcfg)
    else:
        sets = pd.Series("", index=shares.index, dtype=object)
    results, drivers = [], []
    for js in sorted(sets.unique()):
        pcfg = {**cfg, "jurisdictional": {**jcfg, "jurisdictions": js.split(",")}} if jcfg else cfg
        res, drv = _scores_pass(shares[(sets == js).to_numpy()], stakes, holders, entities, run_date, pcfg, top_drivers)
        if jcfg:
            for r in res:
                r["jurisdictions"] = np.where(r["regime"].to_numpy() == "jurisdictional", js, None)
        results += res
        drivers += drv
    mhhi = pd.concat(results, ignore_index=True) if results else pd.DataFrame(
        columns=["market_id", "period", "hhi", "mhhi", "delta", "regime", "delta_common", "delta_strategic",
                 "ownership_as_of", "jurisdictions"])
    if "jurisdictions" not in mhhi:
        mhhi["jurisdictions"] = None
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


def _scores_pass(shares: pd.DataFrame, stakes: pd.DataFrame, holders: pd.DataFrame, entities: pd.DataFrame,
                 run_date: dt.date, cfg: dict, top_drivers: int):
    """:func:`ownership_scores` for the market-periods of one jurisdiction set: lists of mhhi
    frames and driver frames."""
    group = group_of(entities)
    shares = shares.copy()
    shares["as_of"] = _as_of(shares, run_date)
    market_nodes = sorted({group.get(e, e) for e in shares["entity_id"]})
    results, drivers = [], []
    # drivers are computed for the latest period of each market (what alerts, risk scores and the
    # report use); MHHI itself for every period
    ends = period_end(shares["period"])
    latest_mask = ends == ends.groupby(shares["market_id"]).transform("max")
    shares = shares.assign(_latest=latest_mask.to_numpy())
    # the prepared frames are sorted by date: the links as of a date depend only on how many rows
    # of each are dated by then, so dates with the same prefix lengths share one cut. Cuts are
    # scored together as the blocks of block-diagonal matrices, in chunks of bounded size.
    cuts = pd.DataFrame({"as_of": sorted(shares["as_of"].unique())})
    cuts["ns"] = [_prefix_len(stakes, d) for d in cuts["as_of"]]
    cuts["nh"] = [_prefix_len(holders, d) for d in cuts["as_of"]]
    cuts["_key"] = cuts.groupby(["ns", "nh"], sort=False).ngroup()
    shares = shares.merge(cuts[["as_of", "_key"]], on="as_of", how="left", validate="many_to_one")
    first = cuts.drop_duplicates("_key")
    size = (first["ns"] + first["nh"] + len(market_nodes) + 1).to_numpy()
    chunk = np.cumsum(size) // CHUNK_ROWS
    rows_of_key = shares.groupby("_key", sort=False).indices     # each cut's market rows (positions), found once
    for _, block in first.groupby(chunk, sort=True):
        links = links_as_of_many(stakes, holders, entities, list(block["as_of"]), cfg)
        links["_key"] = block["_key"].to_numpy()[links["_key"].to_numpy(dtype=np.int64)]
        extra = [n + TAG_SEP + str(k) for k in block["_key"] for n in market_nodes]
        ids = node_ids(links[links["status"] == "included"], group, tag="_key")   # named once for all three
        mats = Matrices(links, extra, group, tag="_key", ids=ids)
        # the same links split by what they are: common ownership (institutional holders) and
        # strategic stakes (stake_rights, 13D/13G), each delta computed alone
        # (on the same nodes, so one market layout serves all three)
        parts = {kind: Matrices(links[links["kind"] == kind], mats.nodes, group, tag="_key", ids=ids)
                 for kind in ("holder", "stake")}
        in_block = shares.iloc[np.sort(np.concatenate([rows_of_key[k] for k in block["_key"] if k in rows_of_key]))]
        # market-periods in batches of similar width (padded layouts stay near their real size)
        for part in _batches(in_block, power=1):
            layout = market_layout(part, mats.node_index, group, tag="_key")
            res = layout_mhhi(layout, mats)
            for kind, column in (("holder", "delta_common"), ("stake", "delta_strategic")):
                # same layout and nodes, same row order (keys x regimes): aligned by position
                res[column] = layout_mhhi(layout, parts[kind])["delta"].to_numpy()
            as_of = part.drop_duplicates(["market_id", "period"]).set_index(["market_id", "period"])["as_of"]
            res["ownership_as_of"] = as_of.reindex(pd.MultiIndex.from_frame(res[["market_id", "period"]])).to_numpy()
            results.append(res)
        latest = in_block[in_block["_latest"]]
        if not top_drivers or latest.empty:
            continue
        for part in _batches(latest, power=2):     # drivers read each market's firm-pair block
            lay_keys, *_ = lay_latest = market_layout(part, mats.node_index, group, tag="_key")
            c = link_contributions(lay_latest, mats)
            row = links.loc[mats.link_index[c["link"].to_numpy()]]
            drivers.append(pd.DataFrame({
                "market_id": lay_keys["market_id"].to_numpy()[c["m"]], "period": lay_keys["period"].to_numpy()[c["m"]],
                "regime": c["regime"].to_numpy(), "delta_contribution": c["delta_contribution"].to_numpy(),
                "owner_id": row["owner_id"].to_numpy(), "firm_id": row["firm_id"].to_numpy(),
                "beta": row["beta"].to_numpy(), "link_kind": row["kind"].to_numpy()}))
    return results, drivers
