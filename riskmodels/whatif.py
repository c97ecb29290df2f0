"""Deal what-ifs: how would HHI and MHHI move if ``acquirer`` bought ``stake_pct`` of ``target``?

Works on the latest published run: the market's shares (``market_share_facts``) and the
ownership links as of that run date (``ownership_links``). The stake is bought from the target's
unlisted ("other") shareholders; ``stake_pct=100`` is a full merger (other holders bought out).
Stakes are taken in the target's ownership group (a stake in Google Cloud is one in Alphabet).
Units: shares and stakes in percent, HHI/MHHI in points.
"""
from __future__ import annotations

import difflib
import math
import warnings

import pandas as pd

from . import store
from .concentration import GUIDELINES, delta_hhi, screen
from .config import Settings, get_settings
from .ownership import Matrices, group_of, market_mhhi, to_group

CONTROL_TO_REGIME = {"none": "silent", "proportional": "proportional", "full": "full"}


def _close(value: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(value, choices, n=5, cutoff=0.5)
    return f"; did you mean {', '.join(near)}?" if near else ""


def _resolve_entity(name: str, entities: pd.DataFrame, aliases: dict[str, str]) -> str:
    ids = entities["entity_id"].tolist()
    if name in ids:
        return name
    lowered = {k.lower(): v for k, v in aliases.items()}
    lowered.update({n.lower(): i for n, i in zip(entities["name"], entities["entity_id"])})
    if name.lower() in lowered:
        return lowered[name.lower()]
    raise ValueError(f"unknown entity {name!r}{_close(name, ids + list(aliases))}")


def whatif(market: str, acquirer: str, target: str, stake_pct: float, control: str = "proportional",
           period: str | None = None, settings: Settings | None = None, rights=None,
           value_usd_bn: float | None = None) -> dict:
    """Pre and post HHI, MHHI and deltas for one hypothetical stake, with every guideline's verdict.

    Parameters
    ----------
    market : str
        A market id (``cloud.synergy.ww``); see ``riskmodels show concentration``.
    acquirer, target : str
        Entity ids, names or aliases (``AWS``, ``Google Cloud``, ``anthropic``).
    stake_pct : float
        Stake bought, percent of the target (0 < stake <= 100); 100 is a full merger.
    control : {"none", "proportional", "full"}
        Control the stake carries and the regime used for every other stake: none (silent
        financial interest), proportional (gamma = beta), full (the acquirer controls the target).
    period : str, optional
        Market period (default: the market's latest period in the latest run).
    rights : list of str, optional
        Rights the stake carries beside its votes (``riskmodels.screens.RIGHTS``: board_seat,
        board_observer, consultation, veto_budget, ...), for the control screens.
    value_usd_bn : float, optional
        The stake's transaction value (USD bn) for the HSR size-of-transaction test
        (``control.us.size_of_transaction`` of ``config/screens.yaml``); without it the test says
        "not assessed" (a value is never derived from a share).

    The result's ``screens`` (``config/screens.yaml``): the stake's control class per jurisdiction,
    the acquirer's ownership-weighted GUPPI on its own price (MGUPPI: kappa from the post-deal
    profit weights of the screened regime; the target's margin from a cited source, else a
    sensitivity over the configured range), the coordinated-effects flag (post-deal HHI, or MHHI
    for a partial stake, above 1,800) and either firm's durable dominance in this series.
    """
    if control not in CONTROL_TO_REGIME:
        raise ValueError(f"control must be one of {sorted(CONTROL_TO_REGIME)}, got {control!r}")
    if not 0 < stake_pct <= 100:
        raise ValueError(f"stake_pct must be in (0, 100], got {stake_pct}")
    if value_usd_bn is not None and not (math.isfinite(value_usd_bn) and value_usd_bn > 0):
        raise ValueError(f"value_usd_bn must be a positive number of USD bn, got {value_usd_bn}")
    regime = CONTROL_TO_REGIME[control]
    run = store.read_sql("SELECT MAX(run_date) AS d FROM market_share_facts", settings=settings)["d"].iloc[0]
    if run is None or pd.isna(run):
        raise ValueError("nothing published yet: run `riskmodels run --date YYYY-MM-DD` first")
    markets = store.read_sql("SELECT DISTINCT market_id FROM market_share_facts WHERE run_date = :d", {"d": run},
                             settings)["market_id"].tolist()
    if market not in markets:
        raise ValueError(f"unknown market {market!r}{_close(market, markets)} (markets: {', '.join(sorted(markets))})")
    shares = store.read_sql("SELECT market_id, period, entity_id, share_pct FROM market_share_facts "
                            "WHERE run_date = :d AND market_id = :m", {"d": run, "m": market}, settings)
    periods = store.read_sql("SELECT period FROM concentration WHERE run_date = :d AND market_id = :m "
                             "ORDER BY period_end", {"d": run, "m": market}, settings)["period"].tolist()
    period = period or periods[-1]
    if period not in periods:
        raise ValueError(f"market {market} has no period {period!r}; periods: {', '.join(periods)}")
    shares = shares[(shares["period"] == period) & shares["share_pct"].notna()].reset_index(drop=True)
    entities = store.read_sql("SELECT * FROM entities", settings=settings)
    aliases = pd.read_csv((settings or get_settings()).home / "data" / "entity_aliases.csv")
    alias_map = dict(zip(aliases["alias"], aliases["entity_id"]))
    a_id = _resolve_entity(acquirer, entities, alias_map)
    t_id = _resolve_entity(target, entities, alias_map)
    group = group_of(entities)
    a_node, t_node = group.get(a_id, a_id), group.get(t_id, t_id)
    if a_node == t_node:
        raise ValueError(f"{a_id} and {t_id} already belong to the same group ({a_node})")
    links = store.read_sql("SELECT * FROM ownership_links WHERE run_date = :d", {"d": run}, settings)

    firm_nodes = sorted({group.get(e, e) for e in shares["entity_id"]} | {a_node, t_node})
    pre_m = Matrices(links, firm_nodes, group)
    held = links[(links["status"] == "included") & (to_group(links["firm_id"], group) == t_node)]
    held_other = held[to_group(held["owner_id"], group) != a_node]["beta"].sum()
    held_by_a = held[to_group(held["owner_id"], group) == a_node]["beta"].sum()
    stake = stake_pct / 100.0
    post_links = links.copy()
    if stake_pct == 100:
        post_links = post_links[~((to_group(post_links["firm_id"], group) == t_node)
                                  & (post_links["status"] == "included"))]
    elif stake > 1 - held_other - held_by_a + 1e-9:
        raise ValueError(f"{t_node} has only {100 * (1 - held_other - held_by_a):.1f}% not held by listed owners; "
                         f"cannot buy {stake_pct}%")
    new = {"owner_id": a_node, "firm_id": t_node, "kind": "stake", "beta": stake + (0 if stake_pct == 100 else held_by_a),
           "votes": stake if control != "none" else 0.0, "gamma_rights": stake if control != "none" else 0.0,
           "status": "included"}
    post_links = post_links[~((to_group(post_links["owner_id"], group) == a_node)
                              & (to_group(post_links["firm_id"], group) == t_node))]
    post_links = pd.concat([post_links, pd.DataFrame([new])], ignore_index=True)
    post_m = Matrices(post_links, firm_nodes, group)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pre = market_mhhi(shares, pre_m, group).set_index("regime").loc[regime]
        post = market_mhhi(shares, post_m, group).set_index("regime").loc[regime]
    node_share = shares.assign(node=to_group(shares["entity_id"], group)).groupby("node")["share_pct"].sum()
    s_a, s_t = float(node_share.get(a_node, 0.0)), float(node_share.get(t_node, 0.0))
    merger = stake_pct == 100
    both = s_a > 0 and s_t > 0
    pre_hhi = float(pre["hhi"])
    d_hhi = delta_hhi([s_a, s_t], [0, 1]) if merger and both else 0.0
    merged_share = s_a + s_t if (merger or control == "full") and both else None
    result = {
        "run_date": str(run), "market": market, "period": period, "acquirer": a_id, "acquirer_group": a_node,
        "target": t_id, "target_group": t_node, "stake_pct": stake_pct, "control": control, "regime": regime,
        "acquirer_share_pct": s_a, "target_share_pct": s_t,
        "hhi_pre": pre_hhi, "hhi_post": pre_hhi + d_hhi, "delta_hhi": d_hhi,
        "mhhi_pre": float(pre["mhhi"]), "mhhi_post": float(post["mhhi"]),
        "delta_mhhi": float(post["mhhi"] - pre["mhhi"]), "merged_share_pct": merged_share,
    }
    # a full merger is screened on HHI (2010 HMG s.5.3); a partial stake on MHHI (O'Brien & Salop 2000)
    level, change = ((result["hhi_post"], d_hhi) if merger else (result["mhhi_post"], result["delta_mhhi"]))
    result["screened_on"] = "HHI" if merger else "MHHI"
    result["verdicts"] = {}
    for g in GUIDELINES:
        s = screen(min(level, 10_000.0), change, merged_share, g)
        result["verdicts"][g] = {"zone": s.zone, "presumption": s.presumption, "concern": s.concern,
                                 "source": s.source}
    kappa = _kappa(post_m, regime, a_node, t_node)
    # the target's margin: its own, else that of the target group's firm selling in this series
    sellers = shares.assign(node=to_group(shares["entity_id"], group)).sort_values("share_pct", ascending=False)
    candidates = [t_id] + [e for e in sellers.loc[sellers["node"] == t_node, "entity_id"] if e != t_id] + [t_node]
    a_candidates = [a_id] + [e for e in sellers.loc[sellers["node"] == a_node, "entity_id"] if e != a_id] + [a_node]
    result["screens"] = deal_screens(market, run, a_id, t_id, stake_pct, control, rights, s_a, s_t, kappa, level,
                                     settings, margin_ids=candidates, entities=entities, value_usd_bn=value_usd_bn,
                                     acquirer_ids=a_candidates)
    result["screens"]["input_foreclosure"] = foreclosure_screens(market, period, run, a_id, t_id, shares, post_links,
                                                                 group, pre_hhi, settings)
    return result


def foreclosure_screens(market: str, period: str, run_date, acquirer: str, target: str, shares: pd.DataFrame,
                        post_links: pd.DataFrame, group: dict[str, str], hhi_points: float,
                        settings: Settings | None = None) -> dict:
    """Input foreclosure for the hypothetical stake (riskmodels.screens): when the acquirer's
    group supplies compute (``commitment_facts`` of the run) to a rival of the target selling in
    this series and the series is downstream (``vertical.critical_recapture.downstream_layers``),
    the share-proportional actual recapture and the effective ΔHHI (points) with the post-deal
    effective stake; otherwise ``applicable`` is False with the reason."""
    from .screens import effective_dhhi_rows, input_foreclosure_screens, screens_config

    cfg = screens_config(settings)
    conc = store.read_sql("SELECT market_id, period, layer, hhi FROM concentration WHERE run_date = :d AND "
                          "market_id = :m AND period = :p", {"d": run_date, "m": market, "p": period}, settings)
    layers = (cfg.get("vertical", {}).get("critical_recapture") or {}).get("downstream_layers")
    layer = conc["layer"].iloc[0] if len(conc) else None
    if layers and layer not in layers:
        return {"applicable": False, "verdict": f"not applicable: {market} is a {layer} series, not downstream "
                                                f"({', '.join(layers)})"}
    com = store.read_sql("SELECT buyer_id, supplier_id FROM commitment_facts WHERE run_date = :d", {"d": run_date},
                         settings)
    frames = {"stake_rights": pd.DataFrame({"investor_id": [acquirer], "investee_id": [target]}),
              "compute_commitments": com}
    fc = input_foreclosure_screens(frames, shares, conc.assign(fresh=True, hhi=hhi_points), group, cfg,
                                   links=post_links)
    if fc.empty:
        return {"applicable": False, "verdict": f"not applicable: {acquirer}'s group supplies compute to no rival "
                                                f"of {target} selling in {market} {period}"}
    f = fc.iloc[0]
    d = effective_dhhi_rows(fc, cfg).iloc[0]
    return {"applicable": True, "rival": f["rival_id"], "actual_recapture": float(f["actual"]),
            "recapture_verdict": f["verdict"], "effective_dhhi": None if pd.isna(d["kappa"]) else float(d["dhhi"]),
            "effective_dhhi_verdict": d["verdict"], "source": d["source"], "verified": d["verified"]}


def _kappa(mats: Matrices, regime: str, a_node: str, t_node: str) -> float:
    """Weight the acquirer's controllers put on the target's profit, K_at / K_aa (O'Brien and
    Salop 2000), from the post-deal matrices; 0 when the acquirer has no controller."""
    i, j = mats.node_index.get(a_node), mats.node_index.get(t_node)
    if i is None or j is None:
        return 0.0
    K = mats.K[regime]
    kaa = float(K[i, i])
    return min(1.0, max(0.0, float(K[i, j]) / kaa)) if kaa > 0 else 0.0


def size_of_transaction(value_usd_bn: float | None, us_class: dict, cfg: dict) -> dict:
    """The HSR size-of-transaction test (Clayton Act s.7A(a)(2); threshold, year and source in
    ``control.us.size_of_transaction``): a filing may be required when the value held as a result
    exceeds the threshold and the stake is not exempt (``us_class``: the stake's US control class);
    the size-of-person test and other exemptions are not assessed here. Money in USD bn."""
    t = cfg["control"]["us"]["size_of_transaction"]
    base = {"threshold_usd_bn": float(t["threshold_usd_bn"]), "year": t.get("year"), "source": t["source"],
            "verified": t.get("verified", "unverified"), "value_usd_bn": value_usd_bn}
    if value_usd_bn is None:
        return {**base, "above": None, "verdict": "not assessed (no transaction value given: --value-usd-bn)"}
    above = value_usd_bn > float(t["threshold_usd_bn"])
    exempt = us_class.get("regime") == "silent"
    verdict = (f"USD {value_usd_bn:g} bn {'above' if above else 'not above'} USD {float(t['threshold_usd_bn']):g} bn"
               + (": a filing may be required (size-of-person and other exemptions not assessed)" if above and not exempt
                  else ": the passive-investment exemption applies" if above else ": no filing on this test"))
    return {**base, "above": bool(above), "verdict": verdict}


def deal_screens(market: str, run_date, acquirer: str, target: str, stake_pct: float, control: str, rights,
                 share_acquirer_pct: float, share_target_pct: float, kappa: float, post_level: float,
                 settings: Settings | None = None, margin_ids: list[str] | None = None,
                 entities: pd.DataFrame | None = None, value_usd_bn: float | None = None,
                 acquirer_ids: list[str] | None = None) -> dict:
    """The screens of ``config/screens.yaml`` for one hypothetical stake (see :func:`whatif`).
    The target's margin is the first of ``margin_ids`` (default: the target) with a cited margin:
    a filing's segment operating margin known by the run date, else a labelled config entry."""
    from .screens import JURISDICTIONS, cited_margins, control_class, guppi_screen, screens_config

    cfg = screens_config(settings)
    votes = 0.0 if control == "none" else float(stake_pct)
    out: dict = {"control": {j: control_class(votes, rights, j, cfg) for j in JURISDICTIONS}}
    uni = cfg["unilateral"]
    filed = None
    if entities is not None:
        from .sources.sec.model import filed_rows

        filed = filed_rows(pd.Timestamp(run_date).date(), entities, settings)["segment_margins"]
    table = cited_margins(filed, cfg)
    table = table[(table["margin"] >= 0) & (table["margin"] <= 1)]     # an operating loss is no margin
    cited = {r["entity_id"]: r for r in table.to_dict("records")}
    margin = next((cited[e] for e in (margin_ids or [target]) if e in cited), None)
    if share_acquirer_pct <= 0 or share_target_pct <= 0:
        g = {"value": None, "verdict": "not applicable (both firms need a share in this series)"}
    else:
        sens = uni.get("margin_sensitivity")
        g = guppi_screen(share_acquirer_pct, share_target_pct, None if margin is None else margin["margin"],
                         kappa=kappa, margin_range=None if margin or not sens else tuple(sens["range"]), config=cfg)
        g["margin_source"] = margin["source"] if margin else (sens["source"] if sens else None)
        g.pop("thresholds", None)
    out["mguppi"] = {"kappa": kappa, **g, "thresholds": [{"value": t["value"], "source": t["source"]}
                                                         for t in uni["guppi_thresholds"]]}
    out["cmcr"] = merger_cmcr(stake_pct, share_acquirer_pct, share_target_pct, acquirer_ids or [acquirer],
                              margin_ids or [target], cited, uni.get("margin_sensitivity"))
    out["size_of_transaction"] = size_of_transaction(value_usd_bn, out["control"]["us"], cfg)
    co = cfg["coordinated"]
    out["coordinated"] = {"post_level": post_level, "above": float(co["hhi_above"]),
                          "flag": bool(post_level > float(co["hhi_above"])), "source": co["source"],
                          "verified": co.get("verified", "unverified")}
    dom = store.read_sql("SELECT entity_id, verdict FROM screens WHERE run_date = :d AND screen = 'durable_dominance' "
                         "AND market_id = :m", {"d": run_date, "m": market}, settings)
    out["dominance"] = {r.entity_id: r.verdict for r in dom.itertuples() if r.entity_id in (acquirer, target)}
    return out


def merger_cmcr(stake_pct: float, share_acquirer_pct: float, share_target_pct: float, acquirer_ids: list[str],
                target_ids: list[str], cited: dict, sensitivity: dict | None) -> dict:
    """CMCR (Werden 1996) of a full merger (``stake_pct`` 100): firm 1 the acquirer, firm 2 the
    target, each margin the first cited one of its ids (``cited``: entity_id -> margin row)."""
    from .screens import cmcr_screen

    source = "Werden (1996), A Robust Test for Consumer Welfare Enhancing Mergers Among Sellers of Differentiated Products, Journal of Industrial Economics 44(4): CMCR under Bertrand pricing; share-proportional diversion"
    if stake_pct != 100:
        return {"value_1": None, "value_2": None, "source": source,
                "verdict": "not applicable (a merger's test; a partial stake is screened by MGUPPI)"}
    if share_acquirer_pct <= 0 or share_target_pct <= 0:
        return {"value_1": None, "value_2": None, "source": source,
                "verdict": "not applicable (both firms need a share in this series)"}
    m1, m2 = (next((cited[e] for e in ids if e in cited), None) for ids in (acquirer_ids, target_ids))
    out = cmcr_screen(share_acquirer_pct, share_target_pct, None if m1 is None else m1["margin"],
                      None if m2 is None else m2["margin"],
                      margin_range=None if (m1 and m2) or not sensitivity else tuple(sensitivity["range"]),
                      names=(acquirer_ids[0], target_ids[0]))
    out["source"] = source
    out["margin_sources"] = [m["source"] for m in (m1, m2) if m] + ([] if (m1 and m2) or not sensitivity
                                                                     else [sensitivity["source"]])
    return out


def format_whatif(r: dict) -> str:
    """Readable text for one what-if result."""
    lines = [
        f"What if {r['acquirer']} ({r['acquirer_group']}) takes {r['stake_pct']:g}% of {r['target']} "
        f"({r['target_group']}), control: {r['control']}",
        f"Market {r['market']} {r['period']} (run {r['run_date']}); shares: acquirer {r['acquirer_share_pct']:g}%, "
        f"target {r['target_share_pct']:g}%",
        "",
        f"{'':6}{'pre':>10}{'post':>10}{'change':>10}",
        f"{'HHI':6}{r['hhi_pre']:>10,.0f}{r['hhi_post']:>10,.0f}{r['delta_hhi']:>+10,.1f}",
        f"{'MHHI':6}{r['mhhi_pre']:>10,.0f}{r['mhhi_post']:>10,.0f}{r['delta_mhhi']:>+10,.1f}",
        "",
        f"Screens (on post {r['screened_on']} and its change):",
    ]
    for g, v in r["verdicts"].items():
        flag = "PRESUMPTION" if v["presumption"] else "no presumption"
        lines.append(f"  {g:8} {v['zone']}; {flag}" + (f"; {v['concern']}" if v["concern"] else ""))
    sc = r.get("screens")
    if sc:
        lines += ["", "Control and jurisdiction (config/screens.yaml):"]
        for j, c in sc["control"].items():
            lines.append(f"  {j.upper():3} {c['class']}" + (f" (γ: {c['regime']})" if c["regime"] else "")
                         + ("" if c["verified"] == "primary" else "  [unverified]"))
        m = sc["mguppi"]
        lines += ["", f"MGUPPI on the acquirer's price (κ = {m['kappa']:.3f}, share-proportional diversion): {m['verdict']}"]
        if m.get("margin_source"):
            lines.append(f"  margin: {m['margin_source']}")
        lines.append("  thresholds: " + "; ".join(f"{100 * t['value']:g}% ({t['source']})" for t in m["thresholds"]))
        cm = sc.get("cmcr")
        if cm:
            lines.append(f"CMCR (compensating marginal cost reduction, Werden 1996): {cm['verdict']}")
            lines += [f"  margin: {m}" for m in cm.get("margin_sources") or []]
        st = sc["size_of_transaction"]
        lines.append(f"HSR size of transaction ({st['year']} threshold): {st['verdict']} ({st['source']}"
                     + ("" if st["verified"] == "primary" else "; unverified") + ")")
        co = sc["coordinated"]
        lines += ["", f"Coordinated effects: post {r['screened_on']} {co['post_level']:,.0f} "
                  + (f"above {co['above']:,.0f}: FLAG" if co["flag"] else f"not above {co['above']:,.0f}")
                  + f" ({co['source']}" + ("" if co["verified"] == "primary" else "; unverified") + ")"]
        for e, v in sc["dominance"].items():
            lines.append(f"Durable dominance, {e}: {v}")
        fo = sc.get("input_foreclosure")
        if fo:
            lines += ["", "Input foreclosure (config/screens.yaml vertical):"]
            if not fo["applicable"]:
                lines.append(f"  {fo['verdict']}")
            else:
                lines += [f"  critical recapture: {fo['recapture_verdict']}",
                          f"  effective ΔHHI: {fo['effective_dhhi_verdict']}"
                          + ("" if fo["verified"] == "primary" else "  [unverified]")]
    return "\n".join(lines)
