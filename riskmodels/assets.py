"""The Airflow Assets the source DAGs publish and the daily scoring DAG is scheduled on (one
definition, imported by both DAG files; cheap to import: only ``airflow.sdk``)."""
from __future__ import annotations

from airflow.sdk import Asset

SEC_STAKES = Asset(name="riskmodels_sec_stakes", uri="riskmodels://store/sec_stakes")
SEC_HOLDINGS = Asset(name="riskmodels_sec_holdings", uri="riskmodels://store/sec_holdings")
SEC_SEGMENT_REVENUE = Asset(name="riskmodels_sec_segment_revenue", uri="riskmodels://store/sec_segment_revenue")
SEC_SHARES_OUTSTANDING = Asset(name="riskmodels_sec_shares_outstanding", uri="riskmodels://store/sec_shares_outstanding")
#: what the sec_filings DAG updates when it writes facts
SEC_FACTS = [SEC_STAKES, SEC_HOLDINGS, SEC_SEGMENT_REVENUE, SEC_SHARES_OUTSTANDING]
EPOCH_CLUSTERS = Asset(name="riskmodels_epoch_clusters", uri="riskmodels://store/epoch_clusters")
EPOCH_DATA_CENTERS = Asset(name="riskmodels_epoch_data_centers", uri="riskmodels://store/epoch_data_centers")
EPOCH_FRONTIER_MODELS = Asset(name="riskmodels_epoch_frontier_models", uri="riskmodels://store/epoch_frontier_models")
#: what the epoch_compute DAG updates when it publishes a new release
EPOCH_DATA = [EPOCH_CLUSTERS, EPOCH_DATA_CENTERS, EPOCH_FRONTIER_MODELS]
#: any of these updated starts ai_stack_daily (besides its own schedule)
SOURCE_ASSETS = [*SEC_FACTS, *EPOCH_DATA]
#: what the regulatory_feeds DAG updates when it stores new candidates (they wait for review: they
#: do not change a score, so ai_stack_daily is not scheduled on it)
FEED_CANDIDATES = Asset(name="riskmodels_feed_candidates", uri="riskmodels://store/candidate_events")
#: what the review DAG updates when an analyst accepts a candidate: it changes the next run's inputs
REVIEWED_ROWS = Asset(name="riskmodels_reviewed_candidates", uri="riskmodels://store/reviewed_candidates")
