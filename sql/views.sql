-- Analyst views over the risk store. Portable SQL (SQLite >= 3.25 and PostgreSQL >= 12).
-- Created by riskmodels.store.init_db after the tables (schema: riskmodels/store.py).

-- Latest published concentration per market: the newest run date, and in it the newest period,
-- with the figure's age (data_age_days = run date - period end) and whether it is still fresh.
CREATE VIEW v_latest_concentration AS
WITH latest_run AS (SELECT MAX(run_date) AS run_date FROM concentration),
ranked AS (
    SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.market_id ORDER BY c.period_end DESC) AS rn
    FROM concentration c JOIN latest_run l ON c.run_date = l.run_date
)
SELECT r.run_date, r.market_id, m.layer, m.definition, m.geography, m.analyst, m.metric,
       r.period, r.period_end, r.n_firms, r.attributed_pct, r.hhi, r.hhi_lower, r.hhi_upper,
       r.cr1, r.cr4, r.numbers_equivalent, r.top_entity_id, r.zone, r.zone_upper,
       r.market_size_usd_bn, r.min_confidence, r.source_refs,
       r.cadence, r.stale_after, r.data_age_days, r.fresh
FROM ranked r JOIN markets m ON m.market_id = r.market_id
WHERE r.rn = 1;

-- Change against the previous period of the same market (same analyst series), per run date;
-- coverage_change: the attributed share moved too much for the change to be one of concentration.
CREATE VIEW v_concentration_change AS
SELECT c.run_date, c.market_id, c.layer, c.analyst, c.period, c.period_end, c.hhi,
       LAG(c.period) OVER w AS previous_period,
       LAG(c.hhi) OVER w AS previous_hhi,
       c.hhi - LAG(c.hhi) OVER w AS hhi_change,
       c.cr4 - LAG(c.cr4) OVER w AS cr4_change,
       c.zone, LAG(c.zone) OVER w AS previous_zone,
       c.data_age_days, c.fresh,
       c.attributed_pct, c.previous_attributed_pct, c.coverage_change
FROM concentration c
WINDOW w AS (PARTITION BY c.run_date, c.market_id ORDER BY c.period_end);

-- Ownership-adjusted concentration of the latest run: one row per market-period with the
-- sensitivity band across control regimes (silent <= rights <= proportional <= full is typical).
CREATE VIEW v_mhhi_band AS
SELECT o.run_date, o.market_id, o.period,
       MAX(o.hhi) AS hhi,
       MAX(CASE WHEN o.regime = 'silent' THEN o.mhhi END) AS mhhi_silent,
       MAX(CASE WHEN o.regime = 'rights' THEN o.mhhi END) AS mhhi_rights,
       MAX(CASE WHEN o.regime = 'proportional' THEN o.mhhi END) AS mhhi_proportional,
       MAX(CASE WHEN o.regime = 'full' THEN o.mhhi END) AS mhhi_full,
       MAX(CASE WHEN o.regime = 'jurisdictional' THEN o.mhhi END) AS mhhi_jurisdictional,
       MIN(o.mhhi) AS mhhi_low, MAX(o.mhhi) AS mhhi_high
FROM ownership_concentration o
WHERE o.run_date = (SELECT MAX(run_date) FROM ownership_concentration)
GROUP BY o.run_date, o.market_id, o.period;

-- Antitrust risk of the latest run, riskiest first, with the rank band under perturbed weights
-- and the sources of each relationship.
CREATE VIEW v_latest_antitrust AS
SELECT a.run_date, a.subject_type, a.subject_id, a.investor_id, a.investee_id, a.score, a.rank,
       a.rank_p05, a.rank_p95, a.score_pca, a.score_change, a.movement_flag, a.explanation, a.source_refs
FROM antitrust_scores a
WHERE a.run_date = (SELECT MAX(run_date) FROM antitrust_scores);

-- Movers since the previous run: ORDER BY abs_change DESC for the top movers.
CREATE VIEW v_antitrust_movers AS
SELECT a.run_date, a.subject_type, a.subject_id, a.previous_score, a.score, a.score_change,
       ABS(a.score_change) AS abs_change, a.movement_z,
       a.movement_flag, a.explanation
FROM antitrust_scores a
WHERE a.run_date = (SELECT MAX(run_date) FROM antitrust_scores) AND a.score_change IS NOT NULL;

-- Vendor lock-in of the latest run with its sources.
CREATE VIEW v_latest_lockin AS
SELECT l.run_date, l.buyer_id, l.layer, l.score, l.coverage, l.basis, l.top_supplier_id, l.top_supplier_share_pct,
       l.committed_usd_bn, l.ceiling_usd_bn, l.explanation, l.source_refs
FROM lockin_scores l
WHERE l.run_date = (SELECT MAX(run_date) FROM lockin_scores);

-- Money loops of the latest run.
CREATE VIEW v_latest_circular_flows AS
SELECT c.* FROM circular_flows c WHERE c.run_date = (SELECT MAX(run_date) FROM circular_flows);

-- One consensus across analyst series (config/concepts.yaml), latest run: per concept, the
-- "latest" bucket (each member series' latest period): series and fresh series, the median HHI and
-- its band over the fresh series, whether they agree on the 2023 zone, and the largest firm's share
-- range across them.
CREATE VIEW v_latest_concepts AS
WITH latest_run AS (SELECT MAX(run_date) AS run_date FROM concept_concentration),
top_firm AS (
    SELECT f.*, ROW_NUMBER() OVER (PARTITION BY f.run_date, f.concept_id, f.bucket
                                   ORDER BY f.share_median DESC, f.entity_id) AS rn
    FROM concept_firm_shares f JOIN latest_run l ON f.run_date = l.run_date
    WHERE f.bucket = 'latest' AND f.share_median IS NOT NULL
)
SELECT c.run_date, c.concept_id, c.concept_name, c.bucket_end, c.n_series, c.n_fresh, c.median_hhi,
       c.hhi_min, c.hhi_max, c.zones_agree, c.zone, c.median_hhi_all, c.hhi_min_all, c.hhi_max_all,
       t.entity_id AS top_entity_id, t.n_series AS top_n_series, t.share_median AS top_share_median,
       t.share_min AS top_share_min, t.share_max AS top_share_max, c.series
FROM concept_concentration c JOIN latest_run l ON c.run_date = l.run_date
LEFT JOIN top_firm t ON t.run_date = c.run_date AND t.concept_id = c.concept_id AND t.bucket = c.bucket AND t.rn = 1
WHERE c.bucket = 'latest';
