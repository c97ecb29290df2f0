"""
### sec_filings: SEC EDGAR discovery -> fetch -> parse + validate -> publish facts

Every day at 04:30 UTC (after EDGAR's nightly index) this DAG reads, per watched CIK of
`config/sec.yaml`, the submissions JSON and the latest-filings Atom feeds, keeps the accessions
not yet processed, lands their documents through the one fetch-and-land client, parses them
(13D/13G, 13F-HR, inline XBRL; companyfacts), validates the day's rows with the
`expectations/sec_*.json` suites, quarantines a failing filing alone and publishes the rest to
`sec_stakes`, `sec_holdings`, `sec_segment_revenue` and `sec_shares_outstanding`.

When rows were written, `announce` updates the SEC Assets, which start `ai_stack_daily` (it
also runs on its own schedule). A rerun is safe: processed accessions are skipped, JSON
endpoints answer 304, rows are replaced per accession.

Offline by default (recorded files replayed through a loopback server with EDGAR's URL layout);
`RISKMODELS_SOURCES_MODE=live` plus a declared identity (`RISKMODELS_SEC_IDENTITY`) goes live.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, TriggerRule, dag, task

from riskmodels.assets import SEC_FACTS
from riskmodels.dag_defaults import run_date as _run_date
from riskmodels.dag_defaults import source_default_args


@dag(
    dag_id="sec_filings",
    schedule=CronDataIntervalTimetable("30 4 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=source_default_args(),
    tags=["riskmodels", "sources", "sec"],
    doc_md=__doc__,
)
def sec_filings():
    @task(multiple_outputs=False)
    def discover(data_interval_end=None) -> dict:
        from riskmodels.sources.sec.daily import discover_new

        return discover_new(_run_date(data_interval_end))

    @task(multiple_outputs=False)
    def fetch(found: dict) -> dict:
        """Lands every new document (references to the landed blobs go on, not bytes)."""
        from riskmodels.sources.sec.daily import fetch_documents

        return fetch_documents(found["candidates"])

    @task(multiple_outputs=False)
    def load(got: dict, data_interval_end=None, run_id=None) -> dict:
        """Parse, validate and publish; a failing filing is quarantined alone."""
        from riskmodels.sources.sec.daily import load_documents

        summary = load_documents(got["fetched"], _run_date(data_interval_end), run_id)
        summary["fetch_failures"] = got["fetch_failures"]
        return summary

    @task(outlets=SEC_FACTS, multiple_outputs=False)
    def announce(summary: dict) -> dict:
        """Updates the SEC Assets only when facts were written (a skipped task emits none)."""
        from airflow.sdk.exceptions import AirflowSkipException

        written = {k: v for k, v in summary["rows"].items() if k != "sec_filings" and v}
        if not written:
            raise AirflowSkipException("no new SEC facts: the Assets stay as they were")
        return written

    @task(trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def alerts(summary: dict, data_interval_end=None, run_id=None) -> dict:
        """The digest lists quarantined filings; the run fails (for a later rerun) while a
        document stayed unreachable."""
        from airflow.sdk.exceptions import AirflowFailException
        from riskmodels.pipeline import alert

        out = alert(_run_date(data_interval_end), run_id)
        if out["failed"]:
            raise RuntimeError(f"digest(s) {out['failed']} not delivered; they stay queued for the retry")
        if summary and summary.get("fetch_failures"):
            raise AirflowFailException(f"{len(summary['fetch_failures'])} SEC document(s) could not be fetched; "
                                       "the next run fetches them: " + "; ".join(
                                           f"{x['url']}: {x['problem']}" for x in summary["fetch_failures"][:5]))
        return out

    summary = load(fetch(discover()))
    announce(summary)
    alerts(summary)


sec_filings()
