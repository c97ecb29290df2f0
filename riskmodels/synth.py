"""A synthetic AI-stack world in exactly the shipped formats, for scale tests and benchmarks.

Scale 1 is about the snapshot's size; scale s has ~10 s entities, 2 s markets x 40 quarters,
100 s investment links and 50 s commitments. Shapes: heavy-tailed shares (a few dominant firms
per market, each market-period summing to at most 100), index-fund-like owners holding small
stakes in many listed firms plus a few strategic cross-stakes, commitments concentrated on few
suppliers (Zipf), and planted circular loops (a supplier invests in a buyer that commits spend
back to it), whose number is reported. Every row carries synthetic provenance; the output
passes the same GX suites as the shipped data. Vectorised with numpy (no loop over rows).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

CONF = np.array(["high", "medium-high", "medium", "medium-low", "low"])
QUARTERS = [f"{y}Q{q}" for y in range(2016, 2026) for q in range(1, 5)]  # 40 quarters


def _prov(rng, n: int, kind: str, dates) -> dict:
    return {"source": f"synthetic {kind}", "source_url": [f"https://example.invalid/synth/{kind}/{i}" for i in range(n)],
            "source_date": dates, "confidence": rng.choice(CONF, n), "notes": "", "ref_file": f"synth_{kind}.csv",
            "ref_row": np.arange(1, n + 1)}


def _quarter_end(q: pd.Series) -> pd.Series:
    year = q.str.slice(0, 4).astype(int)
    month = q.str.slice(5, 6).astype(int) * 3
    return pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1})) + pd.offsets.MonthEnd(0)


def generate(scale: int = 1, seed: int = 0) -> tuple[dict[str, pd.DataFrame], dict]:
    """The datasets (name -> DataFrame) and a summary (row counts, planted loops)."""
    rng = np.random.default_rng(seed)
    n_ent = 10 * scale + 20
    layers = rng.choice(["cloud", "accelerator", "model", "investor"], n_ent, p=[0.3, 0.15, 0.3, 0.25])
    ids = np.array([f"syn-{lay[:3]}-{i:06d}" for i, lay in enumerate(layers)])
    kind = np.where(layers == "investor", "fund manager", "firm")
    entities = pd.DataFrame({"entity_id": ids, "name": [f"Synthetic {lay} {i}" for i, lay in enumerate(layers)],
                             "kind": kind, "layers": layers, "parent_id": "", "country": rng.choice(["US", "CN", "FR", "DE"], n_ent),
                             "notes": "", "cik": "", "cik_status": "", "cusips": "", "cusips_status": "", "lei": ""})
    n_mkt = 2 * scale
    m_layer = rng.choice(["cloud", "accelerator", "model"], n_mkt, p=[0.4, 0.2, 0.4])
    markets = pd.DataFrame({"market_id": [f"syn.{lay}.{i:05d}" for i, lay in enumerate(m_layer)], "layer": m_layer,
                            "definition": "synthetic market", "geography": "worldwide", "analyst": "Synthetic Analyst",
                            "metric": "revenue share"})
    # shares: per market a fixed set of 3-12 firms of its layer; heavy-tailed, drifting over quarters
    pools = {lay: ids[layers == lay] for lay in ("cloud", "accelerator", "model")}
    k = rng.integers(3, 13, n_mkt)
    k = np.minimum(k, [len(pools[lay]) for lay in m_layer])           # a small pool caps the firms
    firms = np.concatenate([rng.choice(pools[m_layer[m]], size=k[m], replace=False) for m in range(n_mkt)])
    rows_m = np.repeat(np.arange(n_mkt), k * len(QUARTERS))
    firm_slot = np.concatenate([np.tile(np.arange(kk), len(QUARTERS)) for kk in k])
    q_idx = np.concatenate([np.repeat(np.arange(len(QUARTERS)), kk) for kk in k])
    offsets = np.concatenate([[0], np.cumsum(k)[:-1]])
    firm_ids = firms[offsets[rows_m] + firm_slot]
    weight = (rng.pareto(1.1, len(rows_m)) + 0.05) * np.exp(-0.35 * firm_slot)
    frame = pd.DataFrame({"m": rows_m, "q": q_idx, "w": weight})
    total = frame.groupby(["m", "q"])["w"].transform("sum")
    attributed = rng.uniform(0.6, 1.0, n_mkt * len(QUARTERS)).reshape(n_mkt, len(QUARTERS))[rows_m, q_idx]
    share = np.floor(1000 * frame["w"] / total * attributed) / 10  # floor: sums never exceed 100
    period = np.array(QUARTERS)[q_idx]
    qend = _quarter_end(pd.Series(period))
    src_date = (qend + pd.to_timedelta(rng.integers(20, 60, len(period)), unit="D")).dt.strftime("%Y-%m-%d")
    n_sh = len(rows_m)
    market_shares = pd.DataFrame({
        "market_id": markets["market_id"].to_numpy()[rows_m], "period": period, "period_type": "quarter",
        "entity_id": firm_ids, "raw_name": firm_ids, "share_pct": share, "market_size_usd_bn": "", "units_m": "",
        "revenue_usd_bn": "", "segment": "", "metric": "revenue share", "estimate_type": "synthetic",
        **_prov(rng, n_sh, "shares", src_date.to_numpy())})
    # investments: index-like funds in many firms + strategic cross-stakes; planted loops
    firms_all = ids[layers != "investor"]
    funds = ids[layers == "investor"]
    n_inv = 100 * scale
    n_strat = max(5, n_inv // 20)
    n_loops = max(2, scale // 5)
    inv_investor = np.concatenate([rng.choice(funds, n_inv - n_strat - n_loops), rng.choice(firms_all, n_strat)])
    inv_investee = rng.choice(firms_all, n_inv - n_loops)
    clouds, models = pools["cloud"], pools["model"]
    loop_sup = rng.choice(clouds, n_loops)
    loop_buy = rng.choice(models, n_loops)
    inv_investor = np.concatenate([inv_investor, loop_sup])
    inv_investee = np.concatenate([inv_investee, loop_buy])
    same = inv_investor == inv_investee
    inv_investee[same] = rng.choice(firms_all, same.sum())
    inv_date = pd.to_datetime("2018-01-01") + pd.to_timedelta(rng.integers(0, 365 * 8, n_inv), unit="D")
    stake = np.where(np.isin(inv_investor, funds), rng.uniform(0.1, 3.0, n_inv), rng.uniform(2, 25, n_inv))
    basis = rng.choice(["reported", "ceiling", "lower_bound"], n_inv, p=[0.8, 0.12, 0.08])
    investments = pd.DataFrame({
        "date": inv_date.strftime("%Y-%m-%d"), "investor_id": inv_investor, "investee_id": inv_investee,
        "investor_raw": inv_investor, "investee_raw": inv_investee, "amount_usd_bn": np.round(rng.lognormal(0, 1.2, n_inv), 3),
        "amount_basis": basis, "stake_pct": np.round(stake, 2), "instrument": "synthetic equity", "rights": "",
        **_prov(rng, n_inv, "investments", "")})
    # commitments: model buyers, suppliers Zipf-concentrated; the planted loops' spend back
    n_com = 50 * scale
    sup_pool = np.concatenate([clouds, pools["accelerator"]])
    zipf = 1.0 / np.arange(1, len(sup_pool) + 1) ** 1.3
    buyers = np.concatenate([rng.choice(models, n_com - n_loops), loop_buy])
    suppliers = np.concatenate([rng.choice(sup_pool, n_com - n_loops, p=zipf / zipf.sum()), loop_sup])
    com_date = pd.to_datetime("2019-01-01") + pd.to_timedelta(rng.integers(0, 365 * 7, n_com), unit="D")
    usd = np.round(rng.lognormal(1.5, 1.0, n_com), 2)
    has_usd = rng.random(n_com) < 0.8
    commitments = pd.DataFrame({
        "date": com_date.strftime("%Y-%m-%d"), "buyer_id": buyers, "supplier_id": suppliers, "buyer_raw": buyers,
        "supplier_raw": suppliers, "amount_usd_bn": np.where(has_usd, usd, np.nan),
        "amount_basis": np.where(has_usd, "reported", ""), "power_gw": np.where(has_usd, np.nan, np.round(rng.uniform(0.1, 5, n_com), 2)),
        "power_basis": np.where(has_usd, "", "reported"), "term_years": rng.integers(2, 11, n_com),
        "accelerator_family": rng.choice(["Nvidia", "TPU", "Trainium", "AMD Instinct", ""], n_com),
        **_prov(rng, n_com, "commitments", "")})
    # stake rights for the strategic stakes; holders: funds in listed firms (their fund rows)
    strat = investments[~investments["investor_id"].isin(funds)]
    stake_rights = pd.DataFrame({
        "as_of": strat["date"], "investor_id": strat["investor_id"], "investee_id": strat["investee_id"],
        "investor": strat["investor_id"], "investee": strat["investee_id"], "stake_pct": strat["stake_pct"],
        "voting": rng.choice(["yes", "no", "unknown"], len(strat)), "board_seat": rng.choice(["yes", "no", "unknown"], len(strat)),
        "board_observer": rng.choice(["yes", "no", "unknown"], len(strat)), "consultation_or_info_rights": "",
        "exclusivity_or_rofr": "", "revenue_share": "", "cap_pct": "", "notes": "",
        **{k: v for k, v in _prov(rng, len(strat), "stakes", strat["date"].to_numpy()).items() if k != "notes"}})
    fund_rows = investments[investments["investor_id"].isin(funds)].drop_duplicates(["investor_id", "investee_id"])
    holders = pd.DataFrame({
        "as_of": fund_rows["date"], "company_id": fund_rows["investee_id"], "holder_id": fund_rows["investor_id"],
        "company": fund_rows["investee_id"], "holder": fund_rows["investor_id"], "holder_type": "index fund manager",
        "pct_shares_outstanding": fund_rows["stake_pct"], "pct_voting_power": "",
        **_prov(rng, len(fund_rows), "holders", fund_rows["date"].to_numpy())})
    events = pd.DataFrame({"date": "2024-06-01", "party_ids": rng.choice(firms_all, max(1, scale)),
                           "jurisdiction": "XX", "authority": "Synthetic Authority", "event_type": "inquiry", "parties": "",
                           "description": "synthetic", "outcome": "", "status": "", "source": "synthetic events",
                           "source_url": "https://example.invalid/synth/events", "confidence": "medium",
                           "ref_file": "synth_events.csv", "ref_row": np.arange(1, max(1, scale) + 1)})
    # chip-owner estimates (data/compute_ownership.csv layout): the clouds, two snapshots
    owners = np.tile(clouds, 2)
    ownership = pd.DataFrame({
        "as_of": np.repeat(["2024-10", "2026-04"], len(clouds)), "owner": owners,
        "h100e_millions": np.round(rng.lognormal(-1.0, 1.0, len(owners)), 3), "share_pct": "",
        "metric": "cumulative AI compute owned (H100-equivalents)", "source": "synthetic chip owners",
        "source_date": np.repeat(["2024-10", "2026-04"], len(clouds)), "confidence": rng.choice(CONF, len(owners)),
        "source_url": "https://example.invalid/synth/chip-owners", "notes": ""})
    data = {"entities": entities, "markets": markets, "market_shares": market_shares, "investments": investments,
            "compute_commitments": commitments, "stake_rights": stake_rights, "institutional_holders": holders,
            "regulatory_events": events, "compute_ownership": ownership}
    summary = {"scale": scale, "seed": seed, "rows": {k: int(len(v)) for k, v in data.items()},
               "market_periods": int(n_mkt * len(QUARTERS)), "planted_loops": int(n_loops)}
    return data, summary


def write(out: Path, scale: int = 1, seed: int = 0, home: Path | None = None) -> dict:
    """Write the datasets as CSV under ``out`` with a ``sources.yaml`` that points at them."""
    from .config import get_settings

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data, summary = generate(scale, seed)
    for name, frame in data.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    base = yaml.safe_load(((home or get_settings().home) / "config" / "sources.yaml").read_text())
    for name in base["datasets"]:
        base["datasets"][name]["location"] = str((out / f"{name}.csv").resolve())
    (out / "sources.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
