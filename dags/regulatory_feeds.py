"""
### regulatory_feeds: regulators' feeds and 8-K agreements -> candidates an analyst reviews

Every day at 05:30 UTC (after `sec_filings` listed the day's 8-Ks) this DAG fetches the FTC
competition RSS, the European Commission press corner RSS (competition items), the UK CMA cases
Atom (and each new case's GOV.UK Content API document) and the DOJ press RSS (Antitrust Division
items) through the one fetch-and-land client with a conditional GET (`config/events.yaml`). New
items are validated (`expectations/feed_items.json`; a feed that is an HTML error page or fails
the suite is quarantined and named in the digest), stored once per guid in `feed_items`, matched
to the watched firms through the alias table and classified by the versioned rules. The 8-Ks of
watched issuers with items 1.01 / 1.02 / 2.01 / 3.02 become deal candidates.

What a machine finds is a **candidate** (`candidate_events`, `candidate_deals`), never a fact:
`riskmodels review list | show | accept | reject` (or the `review` DAG's Required Actions) decides.
Accepted rows count from the next `ai_stack_daily` run, with confidence `reviewed`.

Offline by default (the fixtures in `data/recorded/feeds` replayed by a loopback server under the
real URLs); `RISKMODELS_SOURCES_MODE=live` fetches the regulators' sites.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, TriggerRule, dag, task

from riskmodels.assets import FEED_CANDIDATES
from riskmodels.dag_defaults import run_date as _run_date
from riskmodels.dag_defaults import source_default_args


@dag(
    dag_id="regulatory_feeds",
    schedule=CronDataIntervalTimetable("30 5 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=source_default_args(),
    tags=["riskmodels", "sources", "regulators"],
    doc_md=__doc__,
)
def regulatory_feeds():
    @task(multiple_outputs=False)
    def fetch_and_match(data_interval_end=None, run_id=None) -> dict:
        """Conditional GET of each feed; new items validated, matched and stored as candidates."""
        from riskmodels.sources.feeds.daily import run_all

        return run_all(_run_date(data_interval_end), run_id)

    @task(outlets=[FEED_CANDIDATES], multiple_outputs=False)
    def announce(summary: dict) -> int:
        """Updates the candidates Asset only when new candidates were stored."""
        from airflow.sdk.exceptions import AirflowSkipException

        new = summary["candidates"] + summary["deals"]["candidates"]
        if not new:
            raise AirflowSkipException("no new candidate: the Asset stays as it was")
        return new

    @task(trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def alerts(summary: dict | None = None, data_interval_end=None, run_id=None) -> dict:
        """A quarantined feed is alerted at once (the digest names it); otherwise the day's digest
        (ai_stack_daily, 06:00) reports the candidates waiting for review."""
        from airflow.sdk.exceptions import AirflowSkipException

        from riskmodels.pipeline import alert

        if summary and not summary["quarantined"]:
            raise AirflowSkipException("nothing quarantined: the daily digest reports the candidates")
        out = alert(_run_date(data_interval_end), run_id)
        if out["failed"]:
            raise RuntimeError(f"digest(s) {out['failed']} not delivered; they stay queued for the retry")
        return out

    summary = fetch_and_match()
    announce(summary)
    alerts(summary)


regulatory_feeds()
