"""Threshold alerts: state per (rule, subject), one digest per run date, an outbox that never
loses or repeats a digest.

* Rules live in ``config/alert_rules.yaml``. For run date D every rule's metric is read from the
  published tables; the status of each subject is derived from its status at the previous
  evaluated run date (Prometheus Alertmanager semantics: OK -> FIRING on a crossing, FIRING ->
  RESOLVED once back past threshold - hysteresis). A metric with no published data for D is
  skipped: missing data never resolves an alert.
* The transitions of D are written, with the digest that reports them, in ONE transaction to
  ``alert_state`` and ``alert_outbox`` (keyed by rule, subject and run date; the digest by run
  date), so a rerun or backfill of D never creates a second digest. Digests for dates older
  than the newest evaluated date are recorded ``suppressed_backfill``, not mailed.
* Delivery: the Airflow connection ``smtp_default`` (``AIRFLOW_CONN_SMTP_DEFAULT``; SSL / STARTTLS
  / login as the connection says) when it exists, else an ``.eml`` file under
  ``<var>/outbox/`` (``sent_to_file``). A failed send stays ``queued`` with its attempts and last
  error; every later delivery attempt sends the backlog oldest first, each exactly once.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from . import store
from .config import Settings, get_settings, load_yaml

log = logging.getLogger(__name__)
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}

alert_state = sa.Table(
    "alert_state", store.metadata,
    sa.Column("rule_id", sa.String(64), primary_key=True), sa.Column("subject_id", sa.String(200), primary_key=True),
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("status", sa.String(8), nullable=False),
    sa.Column("value", sa.Float), sa.Column("threshold", sa.Float, nullable=False),
)

alert_outbox = sa.Table(
    "alert_outbox", store.metadata,
    sa.Column("digest_id", sa.String(64), primary_key=True), sa.Column("run_date", sa.Date, nullable=False, unique=True),
    sa.Column("run_id", sa.String(250), nullable=False), sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(24), nullable=False), sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text), sa.Column("claimed_at", sa.DateTime), sa.Column("sent_at", sa.DateTime),
    sa.Column("transport", sa.String(16)), sa.Column("subject", sa.Text, nullable=False),
    sa.Column("recipients", sa.Text, nullable=False), sa.Column("n_firing", sa.Integer, nullable=False),
    sa.Column("n_resolved", sa.Integer, nullable=False), sa.Column("message", sa.Text, nullable=False),
)

operator_notifications = sa.Table(
    "operator_notifications", store.metadata,
    sa.Column("dag_id", sa.String(250), primary_key=True), sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("task_id", sa.String(250), nullable=False), sa.Column("notified_at", sa.DateTime, nullable=False),
    sa.Column("transport", sa.String(16)),
)


def rules_config(settings: Settings | None = None) -> dict:
    """The alert rules: ``config/alert_rules.yaml``, or the file ``RISKMODELS_ALERT_RULES`` names
    (an operator's own copy, e.g. with the per-series rules switched on)."""
    import os

    settings = settings or get_settings()
    return load_yaml(os.environ.get("RISKMODELS_ALERT_RULES") or settings.home / "config" / "alert_rules.yaml")


# --------------------------------------------------------------------------- metrics
def _latest_period(df: pd.DataFrame, end_col: str = "period_end") -> pd.DataFrame:
    return df[df[end_col] == df.groupby("market_id")[end_col].transform("max")]


def _q(sql: str, d: dt.date, settings) -> pd.DataFrame:
    return store.read_sql(sql, {"d": d}, settings)


def _share_context(d: dt.date, settings) -> pd.DataFrame:
    return _q("SELECT f.market_id, f.period, f.entity_id, e.name, f.share_pct, f.source, f.source_url "
              "FROM market_share_facts f LEFT JOIN entities e ON e.entity_id = f.entity_id WHERE f.run_date = :d", d, settings)


def _drivers_for_markets(facts: pd.DataFrame) -> tuple[dict, dict]:
    """Per (market_id, period): the firms by share ("Amazon 30%, ..."; largest first) and the
    sorted distinct (source_url, source) pairs of its rows. Strings joined per group, not per row."""
    keys = ["market_id", "period"]
    top = facts.sort_values("share_pct", ascending=False, kind="stable")
    top = top[top["share_pct"].notna()]
    name = top["name"].where(top["name"].notna() & (top["name"].astype(str) != ""), top["entity_id"]).astype(str)
    text = name + " " + top["share_pct"].map("{:g}".format) + "%"
    drivers = text.groupby([top[k] for k in keys], sort=False).agg(", ".join).to_dict()
    for key in facts[keys].drop_duplicates().itertuples(index=False, name=None):   # a market with no share: ""
        drivers.setdefault(key, "")
    src = facts.loc[facts["source_url"].map(lambda u: isinstance(u, str)), [*keys, "source_url", "source"]]
    src = src.drop_duplicates().sort_values([*keys, "source_url", "source"], key=lambda c: c.astype(str))
    pairs = pd.Series(list(zip(src["source_url"], src["source"])), index=src.index, dtype=object)
    links = pairs.groupby([src[k] for k in keys], sort=False).agg(list).to_dict()
    for key in facts[keys].drop_duplicates().itertuples(index=False, name=None):
        links.setdefault(key, [])
    return drivers, links


def _names(settings) -> tuple[dict, dict]:
    """(market id -> display name, entity id -> name): what a person reads in the digest."""
    from .pipeline import market_names

    markets = store.read_sql("SELECT * FROM markets", settings=settings)
    ents = store.read_sql("SELECT entity_id, name FROM entities", settings=settings)
    return market_names(markets), dict(zip(ents["entity_id"], ents["name"]))


def _market_label(ids: pd.Series, periods: pd.Series, names: dict) -> pd.Series:
    """ "AI chips, worldwide — Mizuho 2024FY [accel.mizuho.ai-chips]": the name first, the id as reference."""
    return ids.map(names).fillna(ids) + " " + periods.astype(str) + " [" + ids + "]"


def metric_frame(metric: str, d: dt.date, settings: Settings | None = None) -> pd.DataFrame:
    """Observations of one metric for run date ``d``: subject_id, label, value, the fields a rule
    may filter on, drivers (text) and links (list of (url, title)). Empty when nothing is published."""
    cols = ["subject_id", "label", "value", "drivers", "links"]
    if metric in ("hhi", "hhi_change"):
        c = _q("SELECT c.*, v.hhi_change, v.previous_period, v.previous_hhi FROM concentration c "
               "LEFT JOIN v_concentration_change v ON v.run_date = c.run_date AND v.market_id = c.market_id "
               "AND v.period = c.period WHERE c.run_date = :d", d, settings)
        if c.empty:
            return pd.DataFrame(columns=cols)
        c = _latest_period(c)
        drivers, links = _drivers_for_markets(_share_context(d, settings))
        change = c["hhi_change"]
        if metric == "hhi_change" and "coverage_change" in c:
            # a change of coverage (attributed share moved by more than coverage_change_points) is not a
            # change of concentration: not observed by the change rule (the report shows both coverages)
            change = change.where(~c["coverage_change"].fillna(False).astype(bool))
        out = pd.DataFrame({
            "subject_id": c["market_id"], "label": _market_label(c["market_id"], c["period"], _names(settings)[0]),
            "value": c["hhi"] if metric == "hhi" else change, "hhi": c["hhi"], "layer": c["layer"],
            "market_id": c["market_id"],
            "drivers": [f"firms: {drivers.get((m, p), '')}; attributed {a:g}%; "
                        + ("no previous period" if pd.isna(pp) else f"previous period {pp} at {ph:,.0f}")
                        for m, p, pp, ph, a in zip(c["market_id"], c["period"], c["previous_period"],
                                                   c["previous_hhi"], c["attributed_pct"])],
            "links": [links.get((m, p), []) for m, p in zip(c["market_id"], c["period"])]})
        return out[out["value"].notna()]
    if metric == "delta_mhhi":
        o = _q("SELECT o.*, c.period_end, c.layer FROM ownership_concentration o JOIN concentration c ON "
               "c.run_date = o.run_date AND c.market_id = o.market_id AND c.period = o.period WHERE o.run_date = :d", d, settings)
        if o.empty:
            return pd.DataFrame(columns=cols)
        o = _latest_period(o)
        drv = _q("SELECT * FROM mhhi_drivers WHERE run_date = :d", d, settings)
        text = drv.sort_values("rank").groupby(["market_id", "period", "regime"]).apply(
            lambda g: ", ".join(f"{a} in {b} (+{x:.0f})" for a, b, x in zip(g["owner_id"], g["firm_id"], g["delta_contribution"])),
            include_groups=False).to_dict()
        _, links = _drivers_for_markets(_share_context(d, settings))
        return pd.DataFrame({
            "subject_id": o["market_id"] + ":" + o["regime"],
            "label": _market_label(o["market_id"], o["period"], _names(settings)[0]) + " (" + o["regime"] + " control)",
            "value": o["delta_mhhi"], "mhhi": o["mhhi"], "regime": o["regime"], "layer": o["layer"], "market_id": o["market_id"],
            "drivers": [f"stakes driving it: {text.get((m, p, r), 'none')}" for m, p, r in zip(o["market_id"], o["period"], o["regime"])],
            "links": [links.get((m, p), []) for m, p in zip(o["market_id"], o["period"])]})
    if metric == "firm_share":
        f = _q("SELECT f.*, c.period_end, c.layer, e.name FROM market_share_facts f JOIN concentration c ON "
               "c.run_date = f.run_date AND c.market_id = f.market_id AND c.period = f.period "
               "LEFT JOIN entities e ON e.entity_id = f.entity_id WHERE f.run_date = :d", d, settings)
        if f.empty:
            return pd.DataFrame(columns=cols)
        f = _latest_period(f)
        f = f[f["share_pct"].notna()]
        return pd.DataFrame({
            "subject_id": f["market_id"] + ":" + f["entity_id"],
            "label": f["name"].fillna(f["entity_id"]) + " in " + _market_label(f["market_id"], f["period"],
                                                                               _names(settings)[0]),
            "value": f["share_pct"], "layer": f["layer"], "market_id": f["market_id"], "entity_id": f["entity_id"],
            "drivers": "source: " + f["source"].fillna("") + " (" + f["confidence"].fillna("") + ")",
            "links": [[(u, s)] if isinstance(u, str) else [] for u, s in zip(f["source_url"], f["source"])]})
    if metric == "lockin_score":
        lk = _q("SELECT * FROM lockin_scores WHERE run_date = :d AND score IS NOT NULL", d, settings)
        who = lk["buyer_id"].map(_names(settings)[1]).fillna(lk["buyer_id"]) if len(lk) else lk["buyer_id"]
        return pd.DataFrame({"subject_id": lk["buyer_id"] + ":" + lk["layer"], "label": who + " (" + lk["layer"] + ")",
                             "value": lk["score"], "layer": lk["layer"], "entity_id": lk["buyer_id"],
                             "drivers": lk["explanation"], "links": [[] for _ in range(len(lk))]}) if len(lk) else pd.DataFrame(columns=cols)
    if metric == "antitrust_score":
        a = _q("SELECT * FROM antitrust_scores WHERE run_date = :d", d, settings)
        ent = _names(settings)[1] if len(a) else {}
        label = a["subject_id"].map(lambda x: " → ".join(ent.get(p, p) for p in str(x).split("->")))
        return pd.DataFrame({"subject_id": a["subject_type"] + ":" + a["subject_id"], "label": label,
                             "value": a["score"], "subject_type": a["subject_type"], "entity_id": a["subject_id"],
                             "drivers": a["explanation"], "links": [[] for _ in range(len(a))]}) if len(a) else pd.DataFrame(columns=cols)
    if metric in ("concept_hhi", "concept_firm_share"):
        # one observation per concept (and firm): the consensus (median) of the concept's FRESH series
        # in the "latest" bucket (each series' latest period); evaluate() adds how many series are past
        # the rule's threshold (robust: all, contested: some)
        c = _q("SELECT * FROM concept_concentration WHERE run_date = :d AND bucket = 'latest' AND n_fresh > 0", d,
               settings)
        if c.empty:
            return pd.DataFrame(columns=cols)
        if metric == "concept_hhi":
            fresh = [[(x["market_id"], x["period"], x["hhi"]) for x in json.loads(j) if x["fresh"]] for j in c["series"]]
            return pd.DataFrame({
                "subject_id": c["concept_id"], "label": c["concept_name"], "value": c["median_hhi"],
                "concept_id": c["concept_id"], "n_fresh": c["n_fresh"].astype(int), "series_values": fresh,
                "drivers": [f"median HHI of {n} fresh series ({lo:,.0f}–{hi:,.0f}); {tot - n} stale series not counted"
                            for n, lo, hi, tot in zip(c["n_fresh"], c["hhi_min"], c["hhi_max"], c["n_series"])],
                "links": [[] for _ in range(len(c))]})
        f = _q("SELECT f.*, e.name FROM concept_firm_shares f LEFT JOIN entities e ON e.entity_id = f.entity_id "
               "WHERE f.run_date = :d AND f.bucket = 'latest' AND f.n_series > 0", d, settings)
        f = f.merge(c[["concept_id", "concept_name"]], on="concept_id")
        if f.empty:
            return pd.DataFrame(columns=cols)
        vals = [[(m, None, v) for m, v in json.loads(j).items()] for j in f["series"]]
        who = f["name"].fillna(f["entity_id"])
        return pd.DataFrame({
            "subject_id": f["concept_id"] + ":" + f["entity_id"], "label": who + "'s share of " + f["concept_name"],
            "value": f["share_median"], "concept_id": f["concept_id"], "entity_id": f["entity_id"],
            "n_fresh": f["n_fresh"].astype(int), "series_values": vals,
            "drivers": [f"median of its shares in {k} of the concept's {n} fresh series ({lo:g}–{hi:g}%)"
                        for k, n, lo, hi in zip(f["n_series"], f["n_fresh"], f["share_min"], f["share_max"])],
            "links": [[] for _ in range(len(f))]})
    if metric == "series_stale":
        # the latest period of every series: 1 when it is past its stale-after date (config/freshness.yaml)
        c = _q("SELECT market_id, period, period_end, stale_after, data_age_days, fresh, layer, analyst FROM "
               "concentration WHERE run_date = :d AND fresh IS NOT NULL", d, settings)
        if c.empty:
            return pd.DataFrame(columns=cols)
        c = _latest_period(c)
        return pd.DataFrame({
            "subject_id": c["market_id"],
            "label": c["market_id"].map(_names(settings)[0]).fillna(c["market_id"]) + " [" + c["market_id"]
            + "] (latest period " + c["period"] + ")",
            # market_id: the skip list applies (a reporting firms' sum gets no alert at all)
            "value": (~c["fresh"].astype(bool)).astype(float), "layer": c["layer"], "market_id": c["market_id"],
            "drivers": ("latest period " + c["period"] + " ended " + c["period_end"].astype(str) + ", "
                        + c["data_age_days"].astype("Int64").astype(str) + " days before the run; a newer period was "
                        "due by " + c["stale_after"].astype(str) + " (" + c["analyst"].astype(str) + ")"),
            "links": [[] for _ in range(len(c))]})
    if metric == "new_cluster":
        # clusters of the newest Epoch release known by d that the release before it did not list
        rel = _q("SELECT sha256, as_of, url FROM epoch_releases WHERE dataset = 'gpu_clusters' AND status = 'published' "
                 "AND as_of <= :d ORDER BY as_of DESC, processed_at DESC", d, settings)
        if len(rel) < 2:  # the first release is the baseline: nothing in it is "new"
            return pd.DataFrame(columns=cols)
        cur, prev = (store.read_sql("SELECT name, status, certainty, h100e, owner, country FROM epoch_clusters "
                                    "WHERE release_sha256 = :s", {"s": sha}, settings) for sha in rel["sha256"][:2])
        new = cur[~cur["name"].isin(set(prev["name"])) & cur["h100e"].notna()]
        return pd.DataFrame({
            "subject_id": "cluster:" + new["name"], "label": new["name"] + " (" + new["status"] + ", "
            + new["country"].fillna("country unknown") + ")", "value": new["h100e"].astype(float), "layer": "compute",
            "drivers": "owner " + new["owner"].fillna("not named") + "; certainty " + new["certainty"].fillna("?")
            + f"; first listed in the Epoch release of {rel['as_of'].iloc[0]}",
            "links": [[(rel["url"].iloc[0], "Epoch AI, 'Data on GPU Clusters'")]] * len(new)})
    if metric == "validation_failed":
        v = _q("SELECT * FROM validation_results WHERE run_date = :d", d, settings)
        if v.empty:
            return pd.DataFrame(columns=cols)
        v = v.sort_values("validated_at").groupby("dataset").tail(1)
        return pd.DataFrame({
            "subject_id": v["dataset"], "label": "dataset " + v["dataset"], "value": (~v["success"].astype(bool)).astype(float),
            "drivers": [("; ".join(x["message"] if x.get("message") else
                                   f"{x['expectation']} on {x['column']} ({x['unexpected_count']} rows)"
                                   for x in json.loads(det) if x.get("severity") == "critical") or "all expectations met")
                        for det in v["details"]],
            "links": [[] for _ in range(len(v))]})
    if metric in ("new_regulatory_event", "candidates_pending") and not _published(d, settings):
        # evaluated with the day's scores (the daily run's digest), not by a source DAG's earlier alert
        return pd.DataFrame(columns=cols)
    if metric == "new_regulatory_event":
        # candidates an analyst accepted by d (riskmodels.review): one subject per event, so it fires
        # once, on the first run after the acceptance; entity_id filters on one named firm
        ev = _q("SELECT candidate_id, accepted, reviewer, reviewed_at FROM candidate_events WHERE status = 'accepted'",
                d, settings)
        ev = ev[pd.to_datetime(ev["reviewed_at"]).dt.date <= d] if len(ev) else ev
        if ev.empty:
            return pd.DataFrame(columns=cols)
        rows = pd.DataFrame([json.loads(a) for a in ev["accepted"]])
        return pd.DataFrame({
            "subject_id": "event:" + ev["candidate_id"].to_numpy(),
            "label": (rows["authority"] + " " + rows["event_type"] + " (" + rows["date"] + "): " + rows["parties"]).to_numpy(),
            "value": 1.0, "entity_id": rows["party_ids"].to_numpy(),
            "drivers": (rows["description"].fillna("") + "; confirmed by " + ev["reviewer"].to_numpy() + " at "
                        + ev["reviewed_at"].astype(str).to_numpy() + " (candidate " + ev["candidate_id"].to_numpy()
                        + ")").to_numpy(),
            "links": [[(u, "the regulator's announcement")] if isinstance(u, str) else [] for u in rows["source_url"]]})
    if metric == "candidates_pending":
        # one observation: how many candidates wait for review (fires when some appear, resolves at 0)
        n = pending_candidates(settings)
        return pd.DataFrame({"subject_id": ["review-queue"], "label": ["candidates waiting for review"],
                             "value": [float(n)],
                             "drivers": [f"{n} candidate(s) from regulators' feeds and 8-Ks: riskmodels review list"],
                             "links": [[]]})
    raise ValueError(f"unknown alert metric {metric!r}")


def _published(d: dt.date, settings) -> bool:
    return bool(len(_q("SELECT run_id FROM pipeline_runs WHERE run_date = :d AND status = 'published'", d, settings)))


def pending_candidates(settings: Settings | None = None) -> int:
    """Candidates (regulatory events and 8-K deals) waiting for an analyst's review."""
    from .sources.feeds.daily import store_pending

    return store_pending(settings or get_settings())


# --------------------------------------------------------------------------- evaluation
def _fires(value: np.ndarray, threshold: float, direction: str) -> np.ndarray:
    return value > threshold if direction == "above" else value < threshold


def _clears(value: np.ndarray, threshold: float, hysteresis: float, direction: str) -> np.ndarray:
    return value <= threshold - hysteresis if direction == "above" else value >= threshold + hysteresis


def evaluate(d: dt.date, cfg: dict, settings: Settings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Status of every observed (rule, subject) on ``d`` and the transitions against each
    subject's status at the latest earlier evaluated date. Pure read; writes nothing."""
    states, cache = [], {}
    prev = store.read_sql("SELECT s.rule_id, s.subject_id, s.status, s.value FROM alert_state s JOIN ("
                          "SELECT rule_id, subject_id, MAX(run_date) AS run_date FROM alert_state WHERE run_date < :d "
                          "GROUP BY rule_id, subject_id) m ON m.rule_id = s.rule_id AND m.subject_id = s.subject_id "
                          "AND m.run_date = s.run_date", {"d": d}, settings).set_index(["rule_id", "subject_id"])
    for rule in cfg["rules"]:
        if not rule.get("enabled", True):   # per-series rules are kept in config, off by default
            continue
        if rule["metric"] not in cache:
            cache[rule["metric"]] = metric_frame(rule["metric"], d, settings)
        obs = cache[rule["metric"]]
        if obs.empty:
            continue
        for key, want in (rule.get("filter") or {}).items():
            obs = obs[obs[key] == want] if key in obs else obs.iloc[0:0]
        for key, unwanted in (rule.get("exclude") or {}).items():
            obs = obs[obs[key] != unwanted] if key in obs else obs
        if cfg.get("skip_markets_matching") and "market_id" in obs:
            # series that are not a whole market (shares of the reporting firms' sum): no guideline threshold
            obs = obs[~obs["market_id"].astype(str).str.contains(cfg["skip_markets_matching"], regex=True)]
        value = obs["value"].to_numpy(dtype=float)
        cond = np.ones(len(obs), dtype=bool)
        for key, (op, bound) in (rule.get("when") or {}).items():
            cond &= _OPS[op](obs[key].to_numpy(dtype=float), bound)
        firing_now = _fires(value, rule["threshold"], rule["direction"]) & cond
        if "series_values" in obs:
            # consensus crossings: robust when every fresh series is past the threshold, contested when some are
            past = [sum(1 for *_, v in vals if v is not None and _fires(np.array([v]), rule["threshold"],
                                                                           rule["direction"])[0]) for vals in obs["series_values"]]
            n = obs["n_fresh"].to_numpy()
            kind = np.where(np.array(past) >= n, "robust", np.where(np.array(past) > 0, "contested", "none"))
            obs = obs.assign(drivers=[f"{'above' if rule['direction'] == 'above' else 'below'} {rule['threshold']:g} in "
                                      f"{k} of {m} fresh series ({t}); " + str(dv)
                                      for k, m, t, dv in zip(past, n, kind, obs["drivers"])], consensus=kind)
        clear_now = _clears(value, rule["threshold"], rule.get("hysteresis", 0), rule["direction"]) | ~cond
        idx = pd.MultiIndex.from_arrays([[rule["id"]] * len(obs), obs["subject_id"]])
        before = prev["status"].reindex(idx).fillna("OK").to_numpy()
        prev_value = prev["value"].reindex(idx).to_numpy(dtype=float)
        status = np.where(before == "FIRING", np.where(clear_now, "OK", "FIRING"), np.where(firing_now, "FIRING", "OK"))
        states.append(obs.assign(rule_id=rule["id"], status=status, previous_status=before, previous_value=prev_value,
                                 threshold=float(rule["threshold"]), severity=rule["severity"], source=rule["source"],
                                 direction=rule["direction"], hysteresis=rule.get("hysteresis", 0),
                                 recipients=[rule.get("recipients") or cfg["default_recipients"]] * len(obs)))
    if not states:
        empty = pd.DataFrame(columns=["rule_id", "subject_id", "status", "value"])
        return empty, empty
    state = pd.concat(states, ignore_index=True)
    trans = state[state["status"] != state["previous_status"]].copy()
    trans["transition"] = np.where(trans["status"] == "FIRING", "FIRING", "RESOLVED")
    trans["order"] = trans["severity"].map(SEVERITY_ORDER).fillna(9)
    trans = trans.sort_values(["order", "transition", "rule_id", "subject_id"]).drop(columns="order")
    return state, trans


# --------------------------------------------------------------------------- the digest
def _one_line(text: str) -> str:
    """Header-safe: no CR, LF or other control characters."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:,.1f}"


def build_digest(trans: pd.DataFrame, d: dt.date, run_id: str, cfg: dict, sender: str,
                 pending: int = 0) -> EmailMessage:
    """The digest e-mail: a plain-text and an HTML part, every dynamic value escaped; its last
    line says how many candidates wait for review (``pending``; riskmodels.review)."""
    n_fire = int((trans["transition"] == "FIRING").sum())
    n_res = int((trans["transition"] == "RESOLVED").sum())
    recipients = sorted({r for rs in trans["recipients"] for r in rs}) or list(cfg["default_recipients"])
    msg = EmailMessage()
    msg["Subject"] = _one_line(f"[riskmodels] {d}: {n_fire} alert(s) firing, {n_res} resolved"
                               + (f", {pending} to review" if pending else ""))
    msg["From"] = _one_line(sender)
    msg["To"] = ", ".join(_one_line(r) for r in recipients)
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = f"<digest-{d.isoformat()}@riskmodels>"
    msg["X-Riskmodels-Run-Id"] = _one_line(run_id)
    lines = [f"riskmodels alert digest for {d} (run {run_id})", f"{n_fire} firing, {n_res} resolved", ""]
    rows_html = []
    for t in trans.itertuples():
        arrow = ">" if t.direction == "above" else "<"
        head = (f"[{t.severity.upper()}] {t.transition}: {t.rule_id} - {t.label}: {_fmt(t.previous_value)} -> "
                f"{_fmt(t.value)} (threshold {arrow} {t.threshold:g}, hysteresis {t.hysteresis:g})")
        lines += [_one_line(head), f"    why: {_one_line(t.drivers)}", f"    rule source: {_one_line(t.source)}"]
        lines += [f"    data: {_one_line(title)} <{_one_line(url)}>" for url, title in t.links[:5]]
        lines.append("")
        links = "".join(f'<li><a href="{html.escape(url, quote=True)}">{html.escape(str(title))}</a></li>'
                        for url, title in t.links[:5] if re.match(r"^https?://", str(url)))
        rows_html.append(
            f"<tr><td>{html.escape(t.severity)}</td><td>{html.escape(t.transition)}</td>"
            f"<td>{html.escape(t.rule_id)}</td><td>{html.escape(str(t.label))}</td>"
            f"<td>{html.escape(_fmt(t.previous_value))}</td><td>{html.escape(_fmt(t.value))}</td>"
            f"<td>{html.escape(arrow)} {t.threshold:g}</td>"
            f"<td>{html.escape(str(t.drivers))}<br><small>{html.escape(str(t.source))}</small>"
            f"<ul>{links}</ul></td></tr>")
    waiting = (f"{pending} candidate(s) from regulators' feeds and 8-Ks wait for review: "
               "riskmodels review list (or Required Actions in Airflow)")
    lines.append(waiting)
    lines.append("Generated by riskmodels; every figure traces to the cited rows in the risk store.")
    msg.set_content("\n".join(lines))
    msg.add_alternative(
        "<!doctype html><html><body>"
        f"<h2>riskmodels alert digest for {html.escape(str(d))}</h2>"
        f"<p>Run <code>{html.escape(run_id)}</code>: {n_fire} firing, {n_res} resolved.</p>"
        "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><tr><th>severity</th><th>transition</th><th>rule</th>"
        "<th>subject</th><th>previous</th><th>current</th><th>threshold</th><th>why and sources</th></tr>"
        + "".join(rows_html) + f"</table><p>{html.escape(waiting)}</p></body></html>", subtype="html")
    return msg


# --------------------------------------------------------------------------- delivery
def smtp_settings(conn_id: str = "smtp_default"):
    """The Airflow SMTP hook for ``conn_id`` with its connection loaded, or None if the
    connection is not configured (then digests go to files)."""
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # pragma: no cover - airflow is a dependency
        return None
    from .config import airflow_logs_to_stderr

    airflow_logs_to_stderr()
    hook = SmtpHook(smtp_conn_id=conn_id)
    try:
        hook.smtp_connection = hook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # noqa: BLE001 - any other lookup failure means "not configured here"
        if "isn't defined" in str(exc) or "not found" in str(exc).lower():
            return None
        raise
    return hook


def send_smtp(msg: EmailMessage, hook) -> None:
    """Send through the connection's host/port, with SSL or STARTTLS and login as it says
    (the settings of Airflow's SmtpHook), keeping our multipart message intact."""
    client_cls = smtplib.SMTP_SSL if hook.use_ssl else smtplib.SMTP
    with client_cls(host=hook.host, port=hook.port, timeout=hook.timeout) as client:
        if not hook.use_ssl and hook.smtp_starttls:
            client.starttls()
            client.ehlo()
        if hook.smtp_user and hook.smtp_password:
            client.login(hook.smtp_user, hook.smtp_password)
        client.send_message(msg)


def deliver(settings: Settings | None = None, cfg: dict | None = None) -> dict:
    """Send every queued digest, oldest first; each is claimed before sending and marked sent
    after, so a digest goes out once. Failures stay queued with attempts and last error."""
    settings = settings or get_settings()
    cfg = cfg or rules_config(settings)
    engine = store.get_engine(settings)
    t = alert_outbox
    now = store._now()
    stale = now - dt.timedelta(minutes=10)
    with store.transaction(engine) as conn:  # recover claims left by a crashed sender
        conn.execute(t.update().where((t.c.status == "sending") & (t.c.claimed_at < stale)).values(status="queued"))
        queued = conn.execute(sa.select(t.c.digest_id, t.c.message, t.c.run_date).where(t.c.status == "queued")
                              .order_by(t.c.run_date)).all()
    hook = smtp_settings() if queued else None
    sent, failed = [], []
    for digest_id, message, run_date in queued:
        with store.transaction(engine) as conn:
            claimed = conn.execute(t.update().where((t.c.digest_id == digest_id) & (t.c.status == "queued"))
                                   .values(status="sending", claimed_at=store._now(), attempts=t.c.attempts + 1)).rowcount
        if claimed != 1:
            continue
        from email import message_from_string, policy

        msg = message_from_string(message, policy=policy.SMTP)
        try:
            if hook is None:
                out = settings.var / cfg.get("outbox_dir", "outbox")
                out.mkdir(parents=True, exist_ok=True)
                tmp = out / f"{digest_id}.eml.part"
                tmp.write_text(message, encoding="utf-8")
                tmp.replace(out / f"{digest_id}.eml")
                status, transport = "sent_to_file", "file"
            else:
                send_smtp(msg, hook)
                status, transport = "sent", "smtp"
        except (OSError, smtplib.SMTPException) as exc:
            with store.transaction(engine) as conn:
                conn.execute(t.update().where(t.c.digest_id == digest_id).values(status="queued", last_error=f"{type(exc).__name__}: {exc}"))
            failed.append(digest_id)
            log.warning("digest %s not delivered, stays queued: %s", digest_id, exc)
            continue
        with store.transaction(engine) as conn:
            conn.execute(t.update().where(t.c.digest_id == digest_id).values(status=status, transport=transport,
                                                                             sent_at=store._now(), last_error=None))
        sent.append(digest_id)
    return {"sent": sent, "failed": failed}


def run_alerts(d: dt.date, run_id: str, settings: Settings | None = None) -> dict:
    """Evaluate the rules for ``d``, record state and (if anything changed) the digest in one
    transaction, then deliver everything queued. Returns a JSON-able summary."""
    settings = settings or get_settings()
    cfg = rules_config(settings)
    engine = store.get_engine(settings)
    state, trans = evaluate(d, cfg, settings)
    digest_id = f"digest-{d.isoformat()}"
    created = None
    with store.transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('riskmodels-alerts'))"))
        conn.execute(alert_state.delete().where(alert_state.c.run_date == d))
        if len(state):
            conn.execute(alert_state.insert(), [
                {"rule_id": r.rule_id, "subject_id": r.subject_id, "run_date": d, "status": r.status,
                 "value": None if pd.isna(r.value) else float(r.value), "threshold": r.threshold}
                for r in state.itertuples()])
        exists = conn.execute(sa.select(alert_outbox.c.digest_id).where(alert_outbox.c.run_date == d)).first()
        pending = pending_candidates(settings)
        if len(trans) and not exists:
            newest = conn.execute(sa.select(sa.func.max(alert_state.c.run_date))).scalar()
            hook = smtp_settings()
            sender = (hook.from_email if hook is not None else None) or cfg["from_email"]
            msg = build_digest(trans, d, run_id, cfg, sender, pending)
            backfill = newest is not None and newest > d
            conn.execute(alert_outbox.insert().values(
                digest_id=digest_id, run_date=d, run_id=run_id, created_at=store._now(),
                status="suppressed_backfill" if backfill else "queued", attempts=0, subject=str(msg["Subject"]),
                recipients=str(msg["To"]), n_firing=int((trans["transition"] == "FIRING").sum()),
                n_resolved=int((trans["transition"] == "RESOLVED").sum()), message=msg.as_string()))
            created = "suppressed_backfill" if backfill else "queued"
    delivery = deliver(settings, cfg)
    return {"run_date": d.isoformat(), "transitions": int(len(trans)), "digest": created, "pending_review": pending,
            **delivery}
