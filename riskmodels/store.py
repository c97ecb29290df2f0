"""The risk store: one SQLAlchemy schema (the single source of truth), the analyst views
from ``sql/views.sql``, and the writes.

Every score table is keyed by ``run_date``. :func:`publish` replaces one run date's rows in
a single transaction, so a rerun leaves identical tables and a failed run leaves the
previously published rows untouched.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from .config import Settings, get_settings, load_yaml

metadata = sa.MetaData()


class StoreBusyError(RuntimeError):
    """The store stayed locked by another writer for longer than ``config/store.yaml``'s lock
    timeout; this transaction wrote nothing."""


class PublishBusyError(StoreBusyError):
    """A run of the same date (any writer, on SQLite) held the store while this one waited to publish."""


def _is_lock_timeout(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "database is locked" in text or "lock timeout" in text

PROVENANCE = [
    sa.Column("source", sa.Text), sa.Column("source_url", sa.Text), sa.Column("source_date", sa.String(10)),
    sa.Column("confidence", sa.String(16)), sa.Column("ref_file", sa.String(64)), sa.Column("ref_row", sa.Integer),
    sa.Column("input_sha256", sa.String(64)),
]


def _prov():
    return [c._copy() for c in PROVENANCE]


raw_inputs = sa.Table(
    "raw_inputs", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("dataset", sa.String(64), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True), sa.Column("location", sa.Text, nullable=False),
    sa.Column("landing_path", sa.Text, nullable=False), sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False), sa.Column("landed_at", sa.DateTime, nullable=False),
)

validation_results = sa.Table(
    "validation_results", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("dataset", sa.String(64), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True), sa.Column("suite", sa.String(64), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False), sa.Column("evaluated", sa.Integer, nullable=False),
    sa.Column("failed_critical", sa.Integer, nullable=False), sa.Column("failed_warning", sa.Integer, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False), sa.Column("details", sa.Text, nullable=False),
    sa.Column("data_docs", sa.Text), sa.Column("validated_at", sa.DateTime, nullable=False),
    # gx_full, or pandas_full+gx_sample for frames above config/validation.yaml's gx_full_max_rows
    sa.Column("mode", sa.String(32)), sa.Column("gx_rows", sa.Integer),
)

# columns added after a table first shipped: (table, column, DDL type); added in place by init_db
ADDED_COLUMNS = [("validation_results", "mode", "VARCHAR(32)"), ("validation_results", "gx_rows", "INTEGER"),
                 ("entities", "cik", "VARCHAR(10)"), ("entities", "cik_status", "VARCHAR(16)"),
                 ("entities", "cusips", "TEXT"), ("entities", "cusips_status", "VARCHAR(16)"),
                 ("entities", "lei", "VARCHAR(20)"), ("market_share_facts", "accession", "VARCHAR(20)"),
                 ("market_share_facts", "form", "VARCHAR(24)"), ("market_share_facts", "accepted_at", "VARCHAR(32)"),
                 ("ownership_concentration", "delta_mhhi_common", "FLOAT"),
                 ("ownership_concentration", "delta_mhhi_strategic", "FLOAT"),
                 ("concentration", "cadence", "VARCHAR(8)"), ("concentration", "stale_after", "DATE"),
                 ("concentration", "data_age_days", "INTEGER"), ("concentration", "fresh", "BOOLEAN"),
                 ("concentration", "previous_attributed_pct", "FLOAT"), ("concentration", "coverage_change", "BOOLEAN"),
                 ("ownership_links", "control_jurisdictional", "VARCHAR(16)"),
                 ("ownership_links", "gamma_jurisdictional", "FLOAT"),
                 ("ownership_links", "votes_jurisdictional", "FLOAT"),
                 ("ownership_links", "full_jurisdictional", "BOOLEAN"),
                 ("ownership_concentration", "jurisdictions", "VARCHAR(32)")]

pipeline_runs = sa.Table(
    "pipeline_runs", metadata,
    sa.Column("run_id", sa.String(250), primary_key=True), sa.Column("run_date", sa.Date, nullable=False, index=True),
    sa.Column("status", sa.String(32), nullable=False), sa.Column("input_hashes", sa.Text, nullable=False),
    sa.Column("step_seconds", sa.Text, nullable=False), sa.Column("message", sa.Text),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

# every HTTP fetch of the living sources (riskmodels.sources.client): URL, time, status, landed blob
fetch_log = sa.Table(
    "fetch_log", metadata,
    sa.Column("fetch_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("family", sa.String(32), nullable=False), sa.Column("url", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.String(32), nullable=False), sa.Column("status", sa.Integer),
    sa.Column("sha256", sa.String(64)), sa.Column("landing_path", sa.Text), sa.Column("size_bytes", sa.Integer),
    sa.Column("content_type", sa.String(128)), sa.Column("etag", sa.Text), sa.Column("last_modified", sa.String(64)),
    sa.Column("attempts", sa.Integer), sa.Column("not_modified", sa.Boolean), sa.Column("served_by", sa.String(16)),
    sa.Column("error", sa.Text),
)

# the validators of the last answer per URL, for conditional GETs
http_cache = sa.Table(
    "http_cache", metadata,
    sa.Column("url", sa.String(1000), primary_key=True), sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.String(64)), sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("landing_path", sa.Text, nullable=False), sa.Column("content_type", sa.String(128)),
    sa.Column("fetched_at", sa.String(32), nullable=False),
)

# ---- SEC EDGAR facts (riskmodels.sources.sec.daily; the sec_filings DAG). Every fact row carries its
# filing: accession, form, filing address, filed date and acceptance time (point in time by the latter).
def _filing_columns() -> list[sa.Column]:
    return [sa.Column("form", sa.String(24), nullable=False), sa.Column("filing_url", sa.Text),
            sa.Column("filed", sa.Date), sa.Column("accepted_at", sa.String(32)),
            sa.Column("source_sha256", sa.String(64), nullable=False)]


# one row per accession discovery found: what became of it
sec_filings = sa.Table(
    "sec_filings", metadata,
    sa.Column("accession", sa.String(20), primary_key=True), sa.Column("cik", sa.String(10)),
    sa.Column("form", sa.String(24), nullable=False), sa.Column("kind", sa.String(16)),
    sa.Column("filed", sa.Date), sa.Column("accepted_at", sa.String(32)), sa.Column("url", sa.Text),
    sa.Column("discovered_via", sa.String(16), nullable=False), sa.Column("items", sa.Text),
    # published | quarantined | unavailable (the document could not be fetched) | listed (8-K: kept as an event)
    sa.Column("status", sa.String(16), nullable=False), sa.Column("reason", sa.Text),
    sa.Column("sha256", sa.String(64)), sa.Column("records", sa.Integer),
    sa.Column("run_date", sa.Date, nullable=False), sa.Column("processed_at", sa.DateTime, nullable=False),
)

# SCHEDULE 13D/13G cover pages: one row per reporting person; the group's stake is group_percent_of_class
sec_stakes = sa.Table(
    "sec_stakes", metadata,
    sa.Column("accession", sa.String(20), primary_key=True), sa.Column("person_no", sa.Integer, primary_key=True),
    sa.Column("amendment_no", sa.Integer), sa.Column("event_date", sa.Date),
    sa.Column("issuer_cik", sa.String(10)), sa.Column("issuer_cusip", sa.String(9)),
    sa.Column("issuer_name", sa.Text), sa.Column("reporting_person", sa.Text, nullable=False),
    sa.Column("reporting_person_cik", sa.String(10)), sa.Column("percent_of_class", sa.Float),
    sa.Column("shares", sa.Float), sa.Column("sole_voting", sa.Float), sa.Column("shared_voting", sa.Float),
    sa.Column("sole_dispositive", sa.Float), sa.Column("shared_dispositive", sa.Float),
    sa.Column("group_percent_of_class", sa.Float), sa.Column("is_exit", sa.Boolean, nullable=False),
    *_filing_columns(),
)

# 13F-HR information-table rows (USD after unit resolution), one per table line
sec_holdings = sa.Table(
    "sec_holdings", metadata,
    sa.Column("accession", sa.String(20), primary_key=True), sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("holder_cik", sa.String(10), nullable=False), sa.Column("holder_name", sa.Text),
    sa.Column("period_end", sa.Date, nullable=False), sa.Column("report_type", sa.String(32)),
    sa.Column("amendment_type", sa.String(16)), sa.Column("cusip", sa.String(9), nullable=False),
    sa.Column("issuer_name", sa.Text), sa.Column("title_of_class", sa.Text), sa.Column("shares", sa.Float),
    sa.Column("share_type", sa.String(4)), sa.Column("put_call", sa.String(4)), sa.Column("value_usd", sa.Float),
    sa.Column("value_unit_reported", sa.String(16), nullable=False), sa.Column("unit_evidence", sa.Text),
    sa.Column("voting_sole", sa.Float), sa.Column("voting_shared", sa.Float), sa.Column("voting_none", sa.Float),
    sa.Column("investment_discretion", sa.String(8)), sa.Column("other_manager", sa.Text),
    *_filing_columns(),
)

# revenue (and operating income: config/segments.yaml margin_concepts) facts of 10-K/10-Q inline
# XBRL: consolidated (axis null) and by segment / product member
sec_segment_revenue = sa.Table(
    "sec_segment_revenue", metadata,
    sa.Column("accession", sa.String(20), primary_key=True), sa.Column("concept", sa.String(160), primary_key=True),
    sa.Column("dimensions", sa.String(400), primary_key=True), sa.Column("period_start", sa.Date, primary_key=True),
    sa.Column("period_end", sa.Date, primary_key=True), sa.Column("cik", sa.String(10), nullable=False),
    sa.Column("axis", sa.String(160)), sa.Column("member", sa.String(160)),
    sa.Column("duration_months", sa.Integer, nullable=False), sa.Column("value_usd", sa.Float, nullable=False),
    *_filing_columns(),
)

# shares outstanding: dei:EntityCommonStockSharesOutstanding per class (inline cover page, companyfacts)
# and the balance sheet's us-gaap:CommonStockSharesOutstanding (companyfacts; consolidated)
sec_shares_outstanding = sa.Table(
    "sec_shares_outstanding", metadata,
    sa.Column("accession", sa.String(20), primary_key=True), sa.Column("concept", sa.String(160), primary_key=True),
    sa.Column("security_class", sa.String(160), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True), sa.Column("cik", sa.String(10), nullable=False),
    sa.Column("shares", sa.Float, nullable=False), sa.Column("origin", sa.String(16), primary_key=True),
    *_filing_columns(),
)

SEC_TABLES = {t.name: t for t in (sec_stakes, sec_holdings, sec_segment_revenue, sec_shares_outstanding)}

# ---- Epoch AI datasets (riskmodels.sources.epoch.daily; the epoch_compute DAG). One row per release
# fetched (content-addressed): what became of it; the rows of each published release, point in time by
# the release's as_of date (the daily run reads the latest published release known by its date).
epoch_releases = sa.Table(
    "epoch_releases", metadata,
    sa.Column("dataset", sa.String(64), primary_key=True), sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("url", sa.Text, nullable=False), sa.Column("as_of", sa.Date, nullable=False),
    # published | quarantined (the release does not parse or fails a critical expectation)
    sa.Column("status", sa.String(16), nullable=False), sa.Column("reason", sa.Text),
    sa.Column("rows", sa.Integer), sa.Column("landing_path", sa.Text),
    sa.Column("run_date", sa.Date, nullable=False), sa.Column("processed_at", sa.DateTime, nullable=False),
)

# "Data on GPU Clusters": the columns config/epoch.yaml selects, under their short names; cells as
# Epoch writes them (multi-valued, with confidence hashtags), H100e and power typed, dates at the end
# of their precision
epoch_clusters = sa.Table(
    "epoch_clusters", metadata,
    sa.Column("release_sha256", sa.String(64), primary_key=True), sa.Column("row", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False), sa.Column("status", sa.String(32), nullable=False),
    sa.Column("certainty", sa.String(32)), sa.Column("h100e", sa.Float), sa.Column("owner", sa.Text),
    sa.Column("users", sa.Text), sa.Column("country", sa.String(120)), sa.Column("first_operational", sa.Date),
    sa.Column("decommissioned", sa.Date), sa.Column("possible_duplicate", sa.String(16)),
    sa.Column("exclude", sa.String(16)), sa.Column("vendor", sa.String(160)), sa.Column("chip", sa.Text),
    sa.Column("power_mw", sa.Float), sa.Column("source", sa.Text),
)

# "Frontier AI Data Centers": one row per site, its current H100e, power and capital cost
epoch_data_centers = sa.Table(
    "epoch_data_centers", metadata,
    sa.Column("release_sha256", sa.String(64), primary_key=True), sa.Column("row", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False), sa.Column("owner", sa.Text), sa.Column("users", sa.Text),
    sa.Column("investors", sa.Text), sa.Column("h100e", sa.Float), sa.Column("power_mw", sa.Float),
    sa.Column("capital_cost_usd_bn", sa.Float), sa.Column("address", sa.Text),
)

# "Data on AI Models", frontier models: who trained what, when, on whose hardware and cloud
epoch_frontier_models = sa.Table(
    "epoch_frontier_models", metadata,
    sa.Column("release_sha256", sa.String(64), primary_key=True), sa.Column("row", sa.Integer, primary_key=True),
    sa.Column("model", sa.Text, nullable=False), sa.Column("organization", sa.Text),
    sa.Column("publication_date", sa.Date), sa.Column("training_compute_flop", sa.Float),
    sa.Column("hardware", sa.Text), sa.Column("hardware_maker", sa.Text), sa.Column("cloud", sa.Text),
    sa.Column("data_center", sa.Text),
)

EPOCH_TABLES = {t.name: t for t in (epoch_clusters, epoch_data_centers, epoch_frontier_models)}

# ---- Regulators' feeds and 8-K agreements (riskmodels.sources.feeds; the regulatory_feeds DAG), and
# the analyst's review of what they suggest (riskmodels.review). Items are stored once per feed and guid.
feed_items = sa.Table(
    "feed_items", metadata,
    sa.Column("feed", sa.String(32), primary_key=True), sa.Column("guid", sa.String(512), primary_key=True),
    sa.Column("position", sa.Integer), sa.Column("title", sa.Text, nullable=False), sa.Column("link", sa.Text),
    sa.Column("summary", sa.Text), sa.Column("published", sa.String(32)), sa.Column("date", sa.Date, nullable=False),
    # false: the feed's keep_if filter dropped it (not about competition); kept for the record
    sa.Column("kept", sa.Boolean, nullable=False),
    # CMA cases: the GOV.UK Content API document's fields (case_error when it could not be read)
    sa.Column("case_type", sa.String(64)), sa.Column("case_state", sa.String(32)), sa.Column("market_sector", sa.Text),
    sa.Column("outcome_type", sa.String(128)), sa.Column("opened_date", sa.String(10)),
    sa.Column("closed_date", sa.String(10)), sa.Column("case_sha256", sa.String(64)), sa.Column("case_error", sa.Text),
    sa.Column("document_sha256", sa.String(64), nullable=False), sa.Column("landing_path", sa.Text),
    sa.Column("first_run_date", sa.Date, nullable=False),
)


def _review_columns() -> list[sa.Column]:
    """What every candidate carries: the suggested row, its review (pending | known | accepted |
    rejected), who reviewed it and when, the note and the accepted row (JSON)."""
    return [sa.Column("suggested", sa.Text, nullable=False), sa.Column("status", sa.String(16), nullable=False),
            sa.Column("reviewer", sa.String(120)), sa.Column("reviewed_at", sa.DateTime), sa.Column("note", sa.Text),
            sa.Column("accepted", sa.Text), sa.Column("seq", sa.Integer, nullable=False, unique=True),
            sa.Column("created_run_date", sa.Date, nullable=False), sa.Column("created_at", sa.DateTime, nullable=False)]


candidate_events = sa.Table(
    "candidate_events", metadata,
    sa.Column("candidate_id", sa.String(16), primary_key=True),
    sa.Column("feed", sa.String(32), nullable=False), sa.Column("guid", sa.String(512), nullable=False),
    sa.Column("authority", sa.String(120), nullable=False), sa.Column("jurisdiction", sa.String(32)),
    sa.Column("date", sa.Date, nullable=False), sa.Column("title", sa.Text, nullable=False), sa.Column("link", sa.Text),
    sa.Column("party_ids", sa.Text, nullable=False), sa.Column("matched", sa.Text, nullable=False),
    sa.Column("rule_id", sa.String(64)), sa.Column("category", sa.String(64)), sa.Column("event_type", sa.String(120)),
    sa.Column("rule_text", sa.Text), sa.Column("evidence", sa.Text, nullable=False),
    # the regulatory_events row (or accepted candidate) it matches; status "known" then
    sa.Column("known_as", sa.Text),
    sa.Column("document_sha256", sa.String(64), nullable=False), sa.Column("landing_path", sa.Text),
    sa.Column("case_sha256", sa.String(64)),
    *_review_columns(),
)

candidate_deals = sa.Table(
    "candidate_deals", metadata,
    sa.Column("candidate_id", sa.String(16), primary_key=True),
    sa.Column("accession", sa.String(32), nullable=False), sa.Column("cik", sa.String(10), nullable=False),
    sa.Column("filer_id", sa.String(64), nullable=False), sa.Column("form", sa.String(32), nullable=False),
    sa.Column("items", sa.String(120), nullable=False), sa.Column("filing_date", sa.Date, nullable=False),
    sa.Column("url", sa.Text), sa.Column("party_ids", sa.Text), sa.Column("matched", sa.Text),
    # the dataset the suggested row goes to (compute_commitments | investments) and the rule that said so
    sa.Column("dataset", sa.String(32)), sa.Column("deal_rule", sa.String(64)), sa.Column("deal_text", sa.Text),
    sa.Column("amount_usd_bn", sa.Float), sa.Column("amount_text", sa.Text), sa.Column("amount_is_ceiling", sa.Boolean),
    sa.Column("term_years", sa.Float), sa.Column("term_text", sa.Text), sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("document_sha256", sa.String(64)), sa.Column("landing_path", sa.Text),
    *_review_columns(),
)

CANDIDATE_TABLES = {t.name: t for t in (candidate_events, candidate_deals)}

entities = sa.Table(
    "entities", metadata,
    sa.Column("entity_id", sa.String(64), primary_key=True), sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32)), sa.Column("layers", sa.String(128)), sa.Column("parent_id", sa.String(64)),
    sa.Column("country", sa.String(8)), sa.Column("notes", sa.Text),
    # SEC identifiers (config/sec.yaml watches by them); *_status: verified | unverified
    sa.Column("cik", sa.String(10)), sa.Column("cik_status", sa.String(16)), sa.Column("cusips", sa.Text),
    sa.Column("cusips_status", sa.String(16)), sa.Column("lei", sa.String(20)),
)

markets = sa.Table(
    "markets", metadata,
    sa.Column("market_id", sa.String(96), primary_key=True), sa.Column("layer", sa.String(32), nullable=False),
    sa.Column("definition", sa.Text, nullable=False), sa.Column("geography", sa.String(64), nullable=False),
    sa.Column("analyst", sa.String(96), nullable=False), sa.Column("metric", sa.String(96), nullable=False),
)

market_share_facts = sa.Table(
    "market_share_facts", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("market_id", sa.String(96), primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True), sa.Column("entity_id", sa.String(64), primary_key=True),
    sa.Column("share_pct", sa.Float), sa.Column("market_size_usd_bn", sa.Float), *_prov(),
    # rows from SEC filings (confidence "filed"): the filing they come from
    sa.Column("accession", sa.String(20)), sa.Column("form", sa.String(24)), sa.Column("accepted_at", sa.String(32)),
)

concentration = sa.Table(
    "concentration", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("market_id", sa.String(96), primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True), sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("layer", sa.String(32), nullable=False), sa.Column("analyst", sa.String(96), nullable=False),
    sa.Column("n_firms", sa.Integer, nullable=False), sa.Column("n_unknown_share", sa.Integer, nullable=False),
    sa.Column("attributed_pct", sa.Float), sa.Column("hhi", sa.Float), sa.Column("hhi_lower", sa.Float),
    sa.Column("hhi_upper", sa.Float), sa.Column("cr1", sa.Float), sa.Column("cr4", sa.Float),
    sa.Column("numbers_equivalent", sa.Float), sa.Column("top_entity_id", sa.String(64)),
    sa.Column("zone", sa.String(32)), sa.Column("zone_upper", sa.String(32)),
    sa.Column("market_size_usd_bn", sa.Float), sa.Column("min_confidence", sa.String(16)),
    sa.Column("source_refs", sa.Text, nullable=False), sa.Column("input_sha256", sa.String(64), nullable=False),
    # the age of the figure (riskmodels.freshness, config/freshness.yaml): cadence from the period
    # label, the last fresh day, run date minus period end (days), fresh on the run date
    sa.Column("cadence", sa.String(8)), sa.Column("stale_after", sa.Date), sa.Column("data_age_days", sa.Integer),
    sa.Column("fresh", sa.Boolean),
    # against the previous period of the same series: its attributed share (percent) and whether the
    # coverage moved by more than thresholds.yaml coverage_change_points (then the change is not one
    # of concentration)
    sa.Column("previous_attributed_pct", sa.Float), sa.Column("coverage_change", sa.Boolean),
)

investment_facts = sa.Table(
    "investment_facts", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("ref_row", sa.Integer, primary_key=True),
    sa.Column("date", sa.String(10), nullable=False), sa.Column("investor_id", sa.String(64), nullable=False),
    sa.Column("investee_id", sa.String(64), nullable=False), sa.Column("amount_usd_bn", sa.Float),
    sa.Column("amount_basis", sa.String(16)), sa.Column("stake_pct", sa.Float), sa.Column("instrument", sa.Text),
    sa.Column("rights", sa.Text), sa.Column("source", sa.Text), sa.Column("source_url", sa.Text),
    sa.Column("confidence", sa.String(16)), sa.Column("input_sha256", sa.String(64), nullable=False),
)

commitment_facts = sa.Table(
    "commitment_facts", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("ref_row", sa.Integer, primary_key=True),
    sa.Column("date", sa.String(10), nullable=False), sa.Column("buyer_id", sa.String(64), nullable=False),
    sa.Column("supplier_id", sa.String(64), nullable=False), sa.Column("amount_usd_bn", sa.Float),
    sa.Column("amount_basis", sa.String(16)), sa.Column("power_gw", sa.Float), sa.Column("power_basis", sa.String(16)),
    sa.Column("term_years", sa.Float), sa.Column("accelerator_family", sa.String(64)),
    sa.Column("source", sa.Text), sa.Column("source_url", sa.Text), sa.Column("confidence", sa.String(16)),
    sa.Column("input_sha256", sa.String(64), nullable=False),
)

ownership_concentration = sa.Table(
    "ownership_concentration", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("market_id", sa.String(96), primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True), sa.Column("regime", sa.String(16), primary_key=True),
    sa.Column("hhi", sa.Float, nullable=False), sa.Column("mhhi", sa.Float, nullable=False),
    sa.Column("delta_mhhi", sa.Float, nullable=False), sa.Column("zone_mhhi", sa.String(32)),
    sa.Column("ownership_as_of", sa.Date, nullable=False),
    # the delta from common ownership alone (institutional holders: index complexes, 13F filers) and
    # from strategic stakes alone (stake_rights, 13D/13G); their sum differs from delta_mhhi by the
    # interaction of the two
    sa.Column("delta_mhhi_common", sa.Float), sa.Column("delta_mhhi_strategic", sa.Float),
    # jurisdictional rows: the jurisdictions whose control classes the market's links took
    # (config/screens.yaml jurisdictional_mhhi by_geography; e.g. "us" for a US market)
    sa.Column("jurisdictions", sa.String(32)),
)

ownership_links = sa.Table(
    "ownership_links", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("owner_id", sa.String(64), primary_key=True),
    sa.Column("firm_id", sa.String(64), primary_key=True), sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("beta", sa.Float), sa.Column("votes", sa.Float), sa.Column("gamma_rights", sa.Float),
    sa.Column("status", sa.String(24), nullable=False), sa.Column("voting", sa.String(16)),
    sa.Column("board_seat", sa.String(8)), sa.Column("board_observer", sa.String(8)), sa.Column("derived", sa.Boolean),
    sa.Column("as_of", sa.String(10)), sa.Column("ref_file", sa.String(64)), sa.Column("ref_row", sa.Integer),
    # the jurisdictional MHHI regime's inputs (riskmodels.screens.jurisdictional_weights)
    sa.Column("control_jurisdictional", sa.String(16)), sa.Column("gamma_jurisdictional", sa.Float),
    sa.Column("votes_jurisdictional", sa.Float), sa.Column("full_jurisdictional", sa.Boolean),
)

screens = sa.Table(
    "screens", metadata,
    # one row per subject and screen: a relationship (investor->investee: control per jurisdiction,
    # entrenchment) or a firm in a series (entity@market: durable dominance)
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("subject_type", sa.String(16), primary_key=True),
    sa.Column("subject_id", sa.String(170), primary_key=True), sa.Column("screen", sa.String(32), primary_key=True),
    sa.Column("investor_id", sa.String(64)), sa.Column("investee_id", sa.String(64)),
    sa.Column("entity_id", sa.String(64)), sa.Column("market_id", sa.String(96)), sa.Column("period", sa.String(10)),
    sa.Column("as_of", sa.String(10)), sa.Column("stake_pct", sa.Float), sa.Column("votes_pct", sa.Float),
    sa.Column("voting", sa.String(16)), sa.Column("rights", sa.Text), sa.Column("value", sa.Float),
    sa.Column("threshold", sa.Float), sa.Column("verdict", sa.Text, nullable=False), sa.Column("regime", sa.String(16)),
    sa.Column("verified", sa.String(16), nullable=False), sa.Column("source", sa.Text, nullable=False),
    sa.Column("ref_file", sa.String(64)), sa.Column("ref_row", sa.Integer),
)

mhhi_drivers = sa.Table(
    "mhhi_drivers", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("market_id", sa.String(96), primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True), sa.Column("regime", sa.String(16), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True), sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column("firm_id", sa.String(64), nullable=False), sa.Column("link_kind", sa.String(8)),
    sa.Column("beta", sa.Float), sa.Column("delta_contribution", sa.Float, nullable=False),
)

lockin_scores = sa.Table(
    "lockin_scores", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("buyer_id", sa.String(64), primary_key=True),
    sa.Column("layer", sa.String(16), primary_key=True), sa.Column("score", sa.Float), sa.Column("coverage", sa.Float),
    sa.Column("basis", sa.String(8)), sa.Column("top_supplier_id", sa.String(64)),
    sa.Column("top_supplier_share_pct", sa.Float), sa.Column("committed_usd_bn", sa.Float),
    sa.Column("ceiling_usd_bn", sa.Float), sa.Column("raised_usd_bn", sa.Float),
    sa.Column("raised_ceiling_usd_bn", sa.Float), sa.Column("components", sa.Text, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False), sa.Column("source_refs", sa.Text),
)

circular_flows = sa.Table(
    "circular_flows", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("loop_id", sa.String(16), primary_key=True),
    sa.Column("path", sa.Text, nullable=False), sa.Column("hops", sa.Integer, nullable=False),
    sa.Column("edge_kinds", sa.Text, nullable=False), sa.Column("out_usd_bn", sa.Float),
    sa.Column("out_ceiling_usd_bn", sa.Float), sa.Column("back_usd_bn", sa.Float),
    sa.Column("back_ceiling_usd_bn", sa.Float), sa.Column("round_trip_ratio", sa.Float),
    sa.Column("ratio_incl_ceilings", sa.Float), sa.Column("first_date", sa.String(10)),
    sa.Column("last_date", sa.String(10)), sa.Column("hop_details", sa.Text, nullable=False),
    sa.Column("source_refs", sa.Text),
)

# owner -> user compute links of a run (riskmodels.sources.epoch.links): Epoch data centers and GPU
# clusters whose users include a registry firm other than the owner; H100e, MW and (data centers)
# capital cost in 2025 USD bn, Epoch's estimates; confidence is the users cell's hashtag
compute_links = sa.Table(
    "compute_links", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("owner_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), primary_key=True), sa.Column("origin", sa.String(16), primary_key=True),
    sa.Column("site", sa.Text, primary_key=True), sa.Column("h100e", sa.Float), sa.Column("power_mw", sa.Float),
    sa.Column("capital_cost_usd_bn", sa.Float), sa.Column("confidence", sa.String(16)),
    sa.Column("release_sha256", sa.String(64), nullable=False), sa.Column("source_ref", sa.Text, nullable=False),
)

# the band of each cluster-derived compute HHI (riskmodels.sources.epoch.model.uncertainty), points:
# every counted cluster, Confirmed only, without Unlikely; lowest lower / highest upper bound over them
compute_hhi_bands = sa.Table(
    "compute_hhi_bands", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("market_id", sa.String(96), primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True), sa.Column("hhi", sa.Float, nullable=False),
    sa.Column("hhi_confirmed_only", sa.Float), sa.Column("hhi_excl_unlikely", sa.Float),
    sa.Column("band_low", sa.Float, nullable=False), sa.Column("band_high", sa.Float, nullable=False),
    sa.Column("attributed_pct", sa.Float), sa.Column("attributed_pct_confirmed_only", sa.Float),
    sa.Column("release_sha256", sa.String(64), nullable=False),
)

# one consensus across analyst series (riskmodels.concepts, config/concepts.yaml): per concept and
# period bucket (a year, or "latest": each series' latest period), over the FRESH series
concept_concentration = sa.Table(
    "concept_concentration", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("concept_id", sa.String(96), primary_key=True),
    sa.Column("bucket", sa.String(8), primary_key=True), sa.Column("concept_name", sa.Text, nullable=False),
    sa.Column("bucket_end", sa.Date), sa.Column("n_series", sa.Integer, nullable=False),
    sa.Column("n_fresh", sa.Integer, nullable=False), sa.Column("median_hhi", sa.Float), sa.Column("hhi_min", sa.Float),
    sa.Column("hhi_max", sa.Float), sa.Column("zones_agree", sa.Boolean), sa.Column("zone", sa.String(32)),
    sa.Column("median_hhi_all", sa.Float), sa.Column("hhi_min_all", sa.Float), sa.Column("hhi_max_all", sa.Float),
    sa.Column("series", sa.Text), sa.Column("reference", sa.Text),
)

concept_firm_shares = sa.Table(
    "concept_firm_shares", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("concept_id", sa.String(96), primary_key=True),
    sa.Column("bucket", sa.String(8), primary_key=True), sa.Column("entity_id", sa.String(64), primary_key=True),
    sa.Column("n_series", sa.Integer, nullable=False), sa.Column("n_fresh", sa.Integer),
    sa.Column("share_median", sa.Float), sa.Column("share_min", sa.Float), sa.Column("share_max", sa.Float),
    sa.Column("n_series_all", sa.Integer, nullable=False), sa.Column("share_min_all", sa.Float),
    sa.Column("share_max_all", sa.Float), sa.Column("series", sa.Text),
)

antitrust_scores = sa.Table(
    "antitrust_scores", metadata,
    sa.Column("run_date", sa.Date, primary_key=True), sa.Column("subject_type", sa.String(16), primary_key=True),
    sa.Column("subject_id", sa.String(140), primary_key=True), sa.Column("investor_id", sa.String(64)),
    sa.Column("investee_id", sa.String(64)), sa.Column("score", sa.Float, nullable=False),
    sa.Column("rank", sa.Integer), sa.Column("rank_p05", sa.Float), sa.Column("rank_p95", sa.Float),
    sa.Column("rank_std", sa.Float), sa.Column("score_pca", sa.Float), sa.Column("components", sa.Text, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False), sa.Column("source_refs", sa.Text),
    sa.Column("previous_score", sa.Float), sa.Column("score_change", sa.Float), sa.Column("movement_z", sa.Float),
    sa.Column("movement_flag", sa.Boolean),
)

def _lineage(table: sa.Table, mapping: dict[str, str | list[str]], key_built_by: str | None = None) -> None:
    """Record which dataset column each store column comes from (``column.info["from"]``:
    ``"dataset.column"``, or several). The boundary test (tests/test_schema_boundary.py) walks
    these and requires the dataset's suite to assert what the store declares: NOT NULL, numeric,
    whole number, date, maximum length, and uniqueness of the key, unless ``key_built_by`` says
    how the transformation makes the key unique."""
    for col, src in mapping.items():
        table.c[col].info["from"] = [src] if isinstance(src, str) else list(src)
    if key_built_by:
        table.info["key_built_by"] = key_built_by


def _same(dataset: str, *cols: str) -> dict[str, str]:
    return {c: f"{dataset}.{c}" for c in cols}


PROVENANCE_COLUMNS = ("source", "source_url", "source_date", "confidence", "ref_file", "ref_row")
for _t in (*SEC_TABLES.values(), *EPOCH_TABLES.values()):  # each source table: the suite of its own name
    _lineage(_t, _same(_t.name, *[c.name for c in _t.columns]))
_lineage(entities, _same("entities", "entity_id", "name", "kind", "layers", "parent_id", "country", "notes", "cik",
                         "cik_status", "cusips", "cusips_status", "lei"))
_lineage(markets, _same("markets", "market_id", "layer", "definition", "geography", "analyst", "metric"))
_lineage(market_share_facts, {**_same("market_shares", "market_id", "period", "entity_id", "share_pct",
                                      "market_size_usd_bn", *PROVENANCE_COLUMNS),
                              # the chip-owner market (riskmodels.sources.epoch.model.chip_owner_shares)
                              **{c: [f"market_shares.{c}", f"compute_ownership.{c}"]
                                 for c in ("source", "source_url", "source_date", "confidence")},
                              "share_pct": ["market_shares.share_pct", "compute_ownership.h100e_millions"]})
_lineage(concentration, {"market_id": "market_shares.market_id", "period": "market_shares.period",
                         "period_end": "market_shares.period", "layer": "markets.layer", "analyst": "markets.analyst",
                         "top_entity_id": "market_shares.entity_id", "min_confidence": "market_shares.confidence",
                         "source_refs": ["market_shares.ref_file", "market_shares.ref_row"]},
         key_built_by="one row per (market_id, period) group")
_lineage(investment_facts, _same("investments", "ref_row", "date", "investor_id", "investee_id", "amount_usd_bn",
                                 "amount_basis", "stake_pct", "instrument", "rights", "source", "source_url",
                                 "confidence"))
_lineage(commitment_facts, _same("compute_commitments", "ref_row", "date", "buyer_id", "supplier_id", "amount_usd_bn",
                                 "amount_basis", "power_gw", "power_basis", "term_years", "accelerator_family",
                                 "source", "source_url", "confidence"))
_lineage(ownership_links, {"owner_id": ["stake_rights.investor_id", "institutional_holders.holder_id"],
                           "firm_id": ["stake_rights.investee_id", "institutional_holders.company_id"],
                           "voting": "stake_rights.voting", "board_seat": "stake_rights.board_seat",
                           "board_observer": "stake_rights.board_observer",
                           "as_of": ["stake_rights.as_of", "institutional_holders.as_of"],
                           "ref_row": ["stake_rights.ref_row", "institutional_holders.ref_row"]},
         key_built_by="links_as_of keeps the latest row per (owner, firm, kind)")
_lineage(screens, {"investor_id": ["stake_rights.investor_id", "investments.investor_id", "compute_commitments.buyer_id"],
                   "investee_id": ["stake_rights.investee_id", "investments.investee_id",
                                   "compute_commitments.supplier_id"],
                   "entity_id": "market_shares.entity_id", "market_id": "market_shares.market_id",
                   "period": "market_shares.period",
                   "as_of": "stake_rights.as_of", "stake_pct": "stake_rights.stake_pct", "voting": "stake_rights.voting",
                   "ref_file": ["stake_rights.ref_file", "investments.ref_file", "compute_commitments.ref_file"],
                   "ref_row": ["stake_rights.ref_row", "investments.ref_row", "compute_commitments.ref_row"]},
         key_built_by="daily_control_screens keeps the latest stake row per (investor, investee), one row per "
                      "jurisdiction; durable_dominance one row per (series, firm) at the dominance share in the latest "
                      "period; entrenchment one row per flagged relationship")


#: Score tables published per run date, in write order.
SCORE_TABLES = {t.name: t for t in (market_share_facts, concentration, investment_facts, commitment_facts,
                                    ownership_concentration, ownership_links, mhhi_drivers, lockin_scores,
                                    circular_flows, antitrust_scores, compute_links, screens,
                                    compute_hhi_bands, concept_concentration, concept_firm_shares)}
DIMENSION_TABLES = {t.name: t for t in (entities, markets)}


def store_config(settings: Settings | None = None) -> dict:
    """config/store.yaml; ``RISKMODELS_LOCK_TIMEOUT_SECONDS`` overrides its lock timeout."""
    import os

    settings = settings or get_settings()
    cfg = dict(load_yaml(settings.home / "config" / "store.yaml"))
    if os.environ.get("RISKMODELS_LOCK_TIMEOUT_SECONDS"):
        cfg["lock_timeout_seconds"] = float(os.environ["RISKMODELS_LOCK_TIMEOUT_SECONDS"])
    return cfg


@lru_cache(maxsize=8)
def _engine(url: str, lock_timeout: float = 600.0) -> sa.Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": lock_timeout})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _):  # noqa: ANN001
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _begin)
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
            dbapi_conn.execute("PRAGMA journal_mode=WAL")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):  # noqa: ANN001
            # a write transaction takes SQLite's write lock up front (waiting up to the busy
            # timeout): a deferred transaction that reads, then writes after another process
            # committed, fails at once with "database is locked" instead of waiting
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("riskmodels_write")
                                 else "BEGIN")
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


@contextlib.contextmanager
def transaction(engine: sa.Engine):
    """A write transaction (``BEGIN IMMEDIATE`` on SQLite, a plain transaction elsewhere);
    every write of the store goes through one. Waiting past the lock timeout raises
    :class:`StoreBusyError` (the transaction is rolled back)."""
    try:
        with engine.execution_options(riskmodels_write=True).begin() as conn:
            yield conn
    except sa.exc.OperationalError as exc:
        if _is_lock_timeout(exc):
            raise StoreBusyError(f"the risk store stayed locked by another writer past the lock timeout: "
                                 f"{getattr(exc, 'orig', exc)}") from exc
        raise


def get_engine(settings: Settings | None = None) -> sa.Engine:
    """Engine for the risk store (``RISKMODELS_DB_URL``), schema and views created on first use."""
    from . import alerts  # noqa: F401 - registers the alert tables on the shared metadata

    settings = settings or get_settings()
    engine = _engine(settings.db_url, float(store_config(settings)["lock_timeout_seconds"]))
    init_db(engine, settings.sql_dir)
    return engine


_initialised: set[str] = set()


def view_statements(sql_dir: Path) -> list[str]:
    """The ``CREATE VIEW`` statements of ``sql/views.sql``, split on ``;`` at line ends."""
    text = (Path(sql_dir) / "views.sql").read_text(encoding="utf-8")
    text = re.sub(r"--[^\n]*", "", text)
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", text) if s.strip()]


# period labels grew from 8 characters (2024Q3, 2026-04) to 10 (day labels such as 2026-01-02):
# widened in place by init_db on PostgreSQL (SQLite does not enforce VARCHAR lengths)
WIDENED_COLUMNS = [(t.name, "period", 10) for t in metadata.sorted_tables
                   if "period" in t.c and isinstance(t.c.period.type, sa.String) and t.c.period.type.length == 10]


def _widen(conn, sql_dir: Path) -> None:
    """ALTER the WIDENED_COLUMNS still narrower than declared (PostgreSQL). Views depend on those
    columns, so every analyst view is dropped first; init_db recreates them right after."""
    inspector = sa.inspect(conn)
    todo = []
    for table, column, length in WIDENED_COLUMNS:
        cols = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        if column in cols and getattr(cols[column], "length", None) and cols[column].length < length:
            todo.append((table, column, length))
    if not todo:
        return
    for stmt in reversed(view_statements(sql_dir)):
        name = re.search(r"CREATE VIEW\s+(\w+)", stmt, re.I).group(1)
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {name} CASCADE"))
    for table, column, length in todo:
        conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({length})"))


def init_db(engine: sa.Engine, sql_dir: Path) -> None:
    """Create tables (idempotent) and (re)create the analyst views."""
    key = f"{engine.url}|{sql_dir}"
    if key in _initialised:
        return
    with transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            # processes starting together on an empty schema would race on CREATE TABLE / VIEW
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('riskmodels-init-db'))"))
        inspector = sa.inspect(conn)
        if inspector.has_table("screens") and "subject_type" not in {c["name"] for c in inspector.get_columns("screens")}:
            # the first screens layout (keyed by investor, investee): kept aside, not dropped
            for view in view_statements(sql_dir):
                name = re.search(r"CREATE VIEW\s+(\w+)", view, re.I).group(1)
                conn.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))
            conn.execute(sa.text("ALTER TABLE screens RENAME TO screens_v1"))
            if engine.dialect.name == "postgresql":   # index names are per schema: free screens_pkey
                conn.execute(sa.text("ALTER TABLE screens_v1 RENAME CONSTRAINT screens_pkey TO screens_v1_pkey"))
        metadata.create_all(conn)
        if engine.dialect.name == "postgresql":
            _widen(conn, sql_dir)
        inspector = sa.inspect(conn)
        for table, column, ddl in ADDED_COLUMNS:
            if column not in {c["name"] for c in inspector.get_columns(table)}:
                conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
        for stmt in view_statements(sql_dir):
            name = re.search(r"CREATE VIEW\s+(\w+)", stmt, re.I).group(1)
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))
            conn.execute(sa.text(stmt))
    _initialised.add(key)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def upsert(conn, table: sa.Table, rows: list[dict]) -> None:
    """Insert ``rows`` (a few dicts), replacing rows with the same primary key: one
    ``INSERT ... ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL, so two writers of the same key
    at the same time both succeed and the later one wins (delete-then-insert would make the
    second fail on the key once the first commits)."""
    if not rows:
        return
    pk = [c.name for c in table.primary_key.columns]
    if conn.dialect.name in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        ins = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)
        rest = [c.name for c in table.columns if c.name not in pk and c.name in rows[0]]
        stmt = ins.on_conflict_do_update(index_elements=pk, set_={c: ins.excluded[c] for c in rest}) if rest \
            else ins.on_conflict_do_nothing(index_elements=pk)
        conn.execute(stmt, rows)
        return
    for r in rows:
        conn.execute(table.delete().where(sa.and_(*[table.c[k] == r[k] for k in pk])))
    conn.execute(table.insert(), rows)


def record_raw_input(ref: dict, settings: Settings | None = None, status: str = "landed") -> None:
    """Record (or re-record, idempotently) one landed file."""
    engine = get_engine(settings)
    with transaction(engine) as conn:
        upsert(conn, raw_inputs, [{"run_date": dt.date.fromisoformat(ref["run_date"]), "dataset": ref["dataset"],
                                   "sha256": ref["sha256"], "location": ref["location"], "landing_path": ref["path"],
                                   "size_bytes": ref["size_bytes"], "status": status, "landed_at": _now()}])


def set_raw_input_status(ref: dict, status: str, settings: Settings | None = None) -> None:
    engine = get_engine(settings)
    t = raw_inputs
    with transaction(engine) as conn:
        conn.execute(t.update().where((t.c.run_date == dt.date.fromisoformat(ref["run_date"]))
                                      & (t.c.dataset == ref["dataset"]) & (t.c.sha256 == ref["sha256"]))
                     .values(status=status))


def record_fetch(row: dict, settings: Settings | None = None) -> None:
    """Log one HTTP fetch (``fetch_log``)."""
    with transaction(get_engine(settings)) as conn:
        conn.execute(fetch_log.insert(), [row])


def http_cache_get(url: str, settings: Settings | None = None) -> dict | None:
    """The validators and landed blob of the last answer for ``url`` (None if never fetched)."""
    with get_engine(settings).connect() as conn:
        row = conn.execute(sa.select(http_cache).where(http_cache.c.url == url)).mappings().first()
    return dict(row) if row else None


def http_cache_put(row: dict, settings: Settings | None = None) -> None:
    with transaction(get_engine(settings)) as conn:
        upsert(conn, http_cache, [row])


def record_validation(rows: list[dict], settings: Settings | None = None) -> None:
    engine = get_engine(settings)
    with transaction(engine) as conn:
        upsert(conn, validation_results, [{**r, "validated_at": _now()} for r in rows])


def record_run(run_id: str, run_date: dt.date, status: str, input_hashes: dict, step_seconds: dict,
               message: str | None = None, settings: Settings | None = None, conn=None) -> None:
    """Insert or replace the ``pipeline_runs`` row of one run attempt."""
    row = {"run_id": run_id, "run_date": run_date, "status": status,
           "input_hashes": json.dumps(input_hashes, sort_keys=True),
           "step_seconds": json.dumps(step_seconds, sort_keys=True), "message": message, "updated_at": _now()}
    if conn is not None:
        upsert(conn, pipeline_runs, [row])
        return
    with transaction(get_engine(settings)) as c:
        upsert(c, pipeline_runs, [row])


BULK_CHUNK = 100_000


def _bulk_columns(frame: pd.DataFrame, table: sa.Table) -> tuple[list[str], list[list]]:
    """Column-wise Python values for the driver, converted vectorised by column type: dates and
    timestamps as ISO text (the form SQLAlchemy stores in SQLite, and COPY reads), integers as
    int, missing values as None."""
    cols = [c for c in table.columns if c.name in frame.columns]
    missing = {c.name for c in table.columns if not c.nullable and c.name not in frame.columns}
    if missing:
        raise ValueError(f"{table.name}: frame lacks required columns {sorted(missing)}")
    values = []
    for c in cols:
        s = frame[c.name]
        if isinstance(c.type, sa.DateTime):
            s = pd.to_datetime(s).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        elif isinstance(c.type, sa.Date):
            s = pd.to_datetime(s.astype(str).where(s.notna())).dt.strftime("%Y-%m-%d")
        elif isinstance(c.type, sa.Boolean):
            s = s.astype("boolean")
        elif isinstance(c.type, sa.Integer):
            s = pd.to_numeric(s).astype("Int64")
        elif isinstance(c.type, (sa.Float, sa.Numeric)):
            s = pd.to_numeric(s).astype(float)
        obj = s.astype(object)
        values.append(obj.where(s.notna(), None).tolist())
    return [c.name for c in cols], values


class SchemaError(ValueError):
    """A frame does not fit its store table (a value of the wrong type, a null in a NOT NULL
    column, text longer than the column); names the table, column and rows."""


def conform(frame: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """``frame`` as ``table`` stores it: only the table's columns (``run_date`` is added at
    publish), each converted to the column's type (text as ``str``, floats, nullable ``Int64``,
    nullable booleans, dates as ISO ``YYYY-MM-DD`` text). Raises :class:`SchemaError` naming the
    table, column and example rows when a value cannot be stored, a NOT NULL column has nulls
    or a text is longer than its ``VARCHAR(n)``, before anything reaches the database."""
    out = {}
    cols = [c for c in table.columns if c.name in frame.columns and c.name != "run_date"]
    missing = [c.name for c in table.columns if not c.nullable and c.name not in frame.columns and c.name != "run_date"]
    if missing:
        raise SchemaError(f"{table.name}: the scores lack required column(s) {missing}")

    def rows(mask) -> str:
        idx = frame.index[mask.to_numpy() if hasattr(mask, "to_numpy") else mask][:5].tolist()
        return f"{int(mask.sum())} row(s), e.g. frame rows {idx}"

    for c in cols:
        s = frame[c.name]
        try:
            if isinstance(c.type, sa.Boolean):
                v = s.astype("boolean")
            elif isinstance(c.type, sa.Integer):
                num = pd.to_numeric(s, errors="coerce")
                bad = s.notna() & (num.isna() | (num % 1 != 0))
                if bad.any():
                    raise SchemaError(f"{table.name}.{c.name}: not a whole number in {rows(bad)}: "
                                      f"{s[bad].head(3).tolist()!r}")
                v = num.astype("Int64")
            elif isinstance(c.type, (sa.Float, sa.Numeric)):
                v = pd.to_numeric(s, errors="coerce").astype(float)
                bad = s.notna() & v.isna()
                if bad.any():
                    raise SchemaError(f"{table.name}.{c.name}: not a number in {rows(bad)}: {s[bad].head(3).tolist()!r}")
            elif isinstance(c.type, sa.Date):
                d = pd.to_datetime(s.astype("string"), errors="coerce", format="mixed")
                bad = s.notna() & d.isna()
                if bad.any():
                    raise SchemaError(f"{table.name}.{c.name}: not a date in {rows(bad)}: {s[bad].head(3).tolist()!r}")
                v = d.dt.strftime("%Y-%m-%d").astype("str")
            elif isinstance(c.type, sa.DateTime):
                v = pd.to_datetime(s)
            else:
                v = s.astype("str")  # pandas' string dtype keeps missing values missing
                n = getattr(c.type, "length", None)
                if n:
                    long = v.str.len() > n
                    if long.any():
                        raise SchemaError(f"{table.name}.{c.name}: text longer than {n} characters in {rows(long)}")
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SchemaError):
                raise
            raise SchemaError(f"{table.name}.{c.name}: cannot store as {c.type}: {exc}") from exc
        if not c.nullable and not c.primary_key and v.isna().any():
            raise SchemaError(f"{table.name}.{c.name} is NOT NULL but empty in {rows(v.isna())}")
        if c.primary_key and v.isna().any():
            raise SchemaError(f"{table.name}.{c.name} is part of the key but empty in {rows(v.isna())}")
        out[c.name] = v.reset_index(drop=True)
    return pd.DataFrame(out, columns=[c.name for c in cols])


def _bulk_insert(conn, table: sa.Table, frame: pd.DataFrame) -> int:
    """Insert ``frame`` through the driver's fast path in chunks: COPY on PostgreSQL, the
    sqlite3 module's executemany on SQLite; inside the caller's transaction."""
    n = 0
    # rows in primary-key order: index pages fill in sequence instead of at random
    pk = [c.name for c in table.primary_key.columns if c.name in frame.columns]
    if pk and len(frame) > 1:
        frame = frame.sort_values(pk, kind="stable")
    for lo in range(0, len(frame), BULK_CHUNK):
        names, values = _bulk_columns(frame.iloc[lo:lo + BULK_CHUNK], table)
        rows = list(zip(*values))
        quoted = ", ".join(f'"{x}"' for x in names)
        if conn.dialect.name == "postgresql":
            cursor = conn.connection.driver_connection.cursor()
            with cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as cp:
                for r in rows:
                    cp.write_row(r)
        elif conn.dialect.name == "sqlite":
            conn.connection.driver_connection.executemany(
                f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join("?" * len(names))})', rows)
        else:
            conn.execute(table.insert(), [dict(zip(names, r)) for r in rows])
        n += len(rows)
    return n


def publish(run_date: dt.date, scores: dict[str, pd.DataFrame], dimensions: dict[str, pd.DataFrame],
            run_id: str, input_hashes: dict, step_seconds: dict, settings: Settings | None = None) -> dict:
    """Replace every score table's rows for ``run_date`` and the dimension tables, and mark the
    run published, all in ONE transaction. Returns the number of rows written per table.

    Publishers of the same date are serialised (PostgreSQL: an advisory lock on the date, other
    dates proceed in parallel; SQLite: its single write lock), the later one replacing the
    earlier one's rows, so the store always holds one complete set. A publisher that waits
    longer than ``config/store.yaml``'s ``lock_timeout_seconds`` raises PublishBusyError."""
    settings = settings or get_settings()
    engine = get_engine(settings)
    unknown = set(scores) - set(SCORE_TABLES) | set(dimensions) - set(DIMENSION_TABLES)
    if unknown:
        raise ValueError(f"unknown tables {sorted(unknown)}")
    timeout = float(store_config(settings)["lock_timeout_seconds"])
    counts = {}
    try:
        with transaction(engine) as conn:
            if engine.dialect.name == "postgresql":
                # serialise publishers of the same run date; other dates proceed in parallel
                conn.execute(sa.text(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'"))
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"publish:{run_date}"})
                conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
            for name, table in SCORE_TABLES.items():
                frame = scores.get(name)
                conn.execute(table.delete().where(table.c.run_date == run_date))
                counts[name] = 0 if frame is None else _bulk_insert(conn, table, frame.assign(run_date=run_date))
            if engine.dialect.name == "postgresql" and dimensions:
                # the registry tables are not keyed by date: publishers of different dates take
                # turns for this last, short part (always after their date lock: no cycle)
                conn.execute(sa.text(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'"))
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('publish:dimensions'))"))
                conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
            for name, table in DIMENSION_TABLES.items():
                if name in dimensions:
                    conn.execute(table.delete())
                    counts[name] = _bulk_insert(conn, table, dimensions[name])
            record_run(run_id, run_date, "published", input_hashes, step_seconds, conn=conn)
    except StoreBusyError as exc:
        raise PublishBusyError(
            f"a run of {run_date} is already publishing (the store stayed locked for {timeout:g} s); "
            f"nothing was written by run {run_id}: rerun it once the other run has finished") from exc
    return counts


def publish_sec(filings: list[dict], facts: dict[str, pd.DataFrame], settings: Settings | None = None) -> dict:
    """Write one SEC run in ONE transaction: each published filing's fact rows replaced (delete
    by accession, insert), and every filing's ``sec_filings`` row upserted. Returns rows per table."""
    settings = settings or get_settings()
    engine = get_engine(settings)
    counts = {}
    with transaction(engine) as conn:
        for name, table in SEC_TABLES.items():
            frame = facts.get(name)
            if frame is None or frame.empty:
                counts[name] = 0
                continue
            typed = conform(frame, table)
            accs = sorted(set(typed["accession"]))
            for lo in range(0, len(accs), 500):
                conn.execute(table.delete().where(table.c.accession.in_(accs[lo:lo + 500])))
            counts[name] = _bulk_insert(conn, table, typed)
        if filings:
            frame = pd.DataFrame(filings)
            typed = conform(frame, sec_filings).assign(run_date=frame["run_date"].to_numpy())
            accs = sorted(set(typed["accession"]))
            for lo in range(0, len(accs), 500):
                conn.execute(sec_filings.delete().where(sec_filings.c.accession.in_(accs[lo:lo + 500])))
            _bulk_insert(conn, sec_filings, typed)
        counts["sec_filings"] = len(filings)
    return counts


def publish_epoch(release: dict, rows: dict[str, pd.DataFrame], settings: Settings | None = None) -> dict:
    """Write one Epoch release in ONE transaction: its rows (replaced by release sha256) and its
    ``epoch_releases`` row (upserted). A quarantined release writes its release row only, so the
    previous published release stays the one the daily run reads. Returns rows per table."""
    settings = settings or get_settings()
    engine = get_engine(settings)
    counts = {}
    with transaction(engine) as conn:
        for name, frame in rows.items():
            table = EPOCH_TABLES[name]
            conn.execute(table.delete().where(table.c.release_sha256 == release["sha256"]))
            counts[name] = _bulk_insert(conn, table, conform(frame.assign(release_sha256=release["sha256"]), table))
        conn.execute(epoch_releases.delete().where((epoch_releases.c.dataset == release["dataset"])
                                                   & (epoch_releases.c.sha256 == release["sha256"])))
        conn.execute(epoch_releases.insert().values(**{c.name: release.get(c.name) for c in epoch_releases.columns}))
    return counts


def _insert_candidates(conn, table: sa.Table, rows: list[dict]) -> int:
    """Insert the candidates not stored yet (by candidate_id: a reviewed one is never touched),
    numbering them after the table's last ``seq``. Returns how many were new."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":   # two feed runs at once would number the same seq
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"riskmodels-{table.name}"})
    ids = [r["candidate_id"] for r in rows]
    have = set()
    for lo in range(0, len(ids), 500):
        have |= set(conn.execute(sa.select(table.c.candidate_id).where(table.c.candidate_id.in_(ids[lo:lo + 500])))
                    .scalars())
    fresh = [r for r in rows if r["candidate_id"] not in have]
    if not fresh:
        return 0
    seq = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.seq), 0))).scalar())
    now = _now()
    frame = pd.DataFrame(fresh).assign(seq=range(seq + 1, seq + 1 + len(fresh)), created_at=now)
    return _bulk_insert(conn, table, conform(frame, table))


def publish_feed(items: pd.DataFrame, candidates: list[dict], settings: Settings | None = None) -> dict:
    """Write one feed document's new items and their candidates in ONE transaction (items
    already stored are left as they are). Returns rows per table."""
    engine = get_engine(settings)
    with transaction(engine) as conn:
        typed = conform(items, feed_items)
        rows = typed.astype(object).where(typed.notna(), None).to_dict("records")
        # two runs storing the same item at once both succeed (the later one wins)
        upsert(conn, feed_items, [{**r, "kept": None if r["kept"] is None else bool(r["kept"]),
                                   "date": dt.date.fromisoformat(r["date"]),
                                   "first_run_date": dt.date.fromisoformat(r["first_run_date"])} for r in rows])
        n_items = len(rows)
        n_cand = _insert_candidates(conn, candidate_events, candidates)
    return {"feed_items": n_items, "candidate_events": n_cand}


def publish_deals(candidates: list[dict], settings: Settings | None = None) -> dict:
    """Store new 8-K deal candidates (one transaction; known ids untouched)."""
    with transaction(get_engine(settings)) as conn:
        return {"candidate_deals": _insert_candidates(conn, candidate_deals, candidates)}


def review_candidate(table: str, candidate_id: str, values: dict, settings: Settings | None = None) -> int:
    """Record an analyst's decision on one candidate (status, reviewer, reviewed_at, note,
    accepted); only a pending or known candidate can be decided. Returns rows changed."""
    t = CANDIDATE_TABLES[table]
    with transaction(get_engine(settings)) as conn:
        return conn.execute(t.update().where((t.c.candidate_id == candidate_id) & t.c.status.in_(["pending", "known"]))
                            .values(**values)).rowcount


def read_sql(query: str, params: dict | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Run a read query against the risk store and return a DataFrame."""
    engine = get_engine(settings)
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn, params=params or {})


def previous_scores(table: str, run_date: dt.date, columns: list[str], settings: Settings | None = None) -> pd.DataFrame:
    """Rows of ``table`` from the latest run date before ``run_date`` (empty if none)."""
    t = metadata.tables[table]
    engine = get_engine(settings)
    with engine.connect() as conn:
        prev = conn.execute(sa.select(sa.func.max(t.c.run_date)).where(t.c.run_date < run_date)).scalar()
        if prev is None:
            return pd.DataFrame(columns=columns)
        return pd.read_sql(sa.select(*[t.c[c] for c in columns]).where(t.c.run_date == prev), conn)


def schema_ddl(dialect: str = "sqlite") -> str:
    """The DDL of every table for ``dialect`` (``sqlite`` or ``postgresql``), from the schema above."""
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from . import alerts  # noqa: F401 - registers the alert tables

    d = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}[dialect]
    parts = []
    for table in metadata.sorted_tables:
        parts.append(str(CreateTable(table).compile(dialect=d)).strip() + ";")
        parts.extend(str(CreateIndex(ix).compile(dialect=d)).strip() + ";" for ix in table.indexes)
    return "\n\n".join(parts) + "\n"
