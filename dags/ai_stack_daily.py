"""
### ai_stack_daily: ingest -> validate (GX) -> concentration -> SQL tables

Every day at 06:00 UTC this DAG lands each dataset of `config/sources.yaml` (one mapped
task per dataset, in parallel), validates them with the Great Expectations suites in
`expectations/`, computes concentration, ownership, lock-in and risk scores, publishes the
risk store tables in one transaction, mails one alert digest of the threshold crossings and
writes the report; `cleanup` then removes storage orphans that have aged out.
All logic lives in `riskmodels`; this file only wires it. Tasks hand each other references
(storage URLs of landed blobs and staged Parquet), never data, so any worker can run any task.

**Run date.** The schedule is an `AssetOrTimeSchedule`: a `CronDataIntervalTimetable` (the run
at D 06:00 covers the interval [D-1 06:00, D 06:00) and publishes scores *as of* D = the
data-interval end's UTC date) or an update of a source's Assets (`sec_filings` wrote new facts,
`epoch_compute` published a new Epoch release; the run date is the UTC date the run was
triggered). Only rows known by D count (point in time: SEC facts by their filing's acceptance
date, an Epoch release from its as-of date), so a backfill reproduces what the monitor would
have said then.
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronDataIntervalTimetable, TriggerRule, dag, task, teardown

from riskmodels.assets import EPOCH_DATA, REVIEWED_ROWS, SEC_FACTS
from riskmodels.notify import RunFailureNotifier

CONCENTRATION = Asset(name="riskmodels_concentration", uri="riskmodels://store/concentration")
MARKET_SHARE_FACTS = Asset(name="riskmodels_market_share_facts", uri="riskmodels://store/market_share_facts")
INVESTMENT_FACTS = Asset(name="riskmodels_investment_facts", uri="riskmodels://store/investment_facts")
COMMITMENT_FACTS = Asset(name="riskmodels_commitment_facts", uri="riskmodels://store/commitment_facts")
OWNERSHIP = Asset(name="riskmodels_ownership_concentration", uri="riskmodels://store/ownership_concentration")
LOCKIN = Asset(name="riskmodels_lockin_scores", uri="riskmodels://store/lockin_scores")
CIRCULAR = Asset(name="riskmodels_circular_flows", uri="riskmodels://store/circular_flows")
ANTITRUST = Asset(name="riskmodels_antitrust_scores", uri="riskmodels://store/antitrust_scores")
PUBLISHED = [CONCENTRATION, MARKET_SHARE_FACTS, INVESTMENT_FACTS, COMMITMENT_FACTS, OWNERSHIP, LOCKIN, CIRCULAR,
             ANTITRUST]


def _run_date(data_interval_end):
    import datetime

    if data_interval_end is None:  # a run started by the SEC Assets has no data interval
        from airflow.sdk import get_current_context

        data_interval_end = get_current_context()["dag_run"].run_after
    d = data_interval_end.astimezone(datetime.timezone.utc)  # pendulum or datetime
    return datetime.date(d.year, d.month, d.day)


def _all(refs) -> list:
    # one slice request for the mapped ingest results (iterating probes past the end)
    return list(refs[:])


@dag(
    dag_id="ai_stack_daily",
    # daily, and whenever the sec_filings / epoch_compute DAGs write new facts or the review DAG
    # records an accepted candidate (any of their Assets)
    schedule=AssetOrTimeSchedule(timetable=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
                                 assets=(SEC_FACTS[0] | SEC_FACTS[1] | SEC_FACTS[2] | SEC_FACTS[3]
                                         | EPOCH_DATA[0] | EPOCH_DATA[1] | EPOCH_DATA[2] | REVIEWED_ROWS)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        # once per failed run, after retries (task-level: DAG-level notifiers break dag.test())
        "on_failure_callback": RunFailureNotifier(),
    },
    tags=["riskmodels", "concentration"],
    doc_md=__doc__,
)
def ai_stack_daily():
    @task
    def list_datasets() -> list[str]:
        from riskmodels.pipeline import datasets

        return datasets()

    # every task hands on one small dict (references, not data): no per-key XComs
    @task(multiple_outputs=False)
    def ingest(dataset: str, data_interval_end=None) -> dict:
        from riskmodels.pipeline import ingest as land

        return land(dataset, _run_date(data_interval_end))

    @task(multiple_outputs=False)
    def validate(refs, data_interval_end=None, run_id=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException
        from riskmodels.pipeline import validate as check
        from riskmodels.validate import DataQualityError

        try:
            return check(_all(refs), _run_date(data_interval_end), run_id=run_id)
        except DataQualityError as exc:  # bad data: retrying cannot help
            raise AirflowFailException(str(exc)) from exc

    @task(multiple_outputs=False)
    def score(refs, validation: dict, data_interval_end=None, run_id=None) -> dict:
        from riskmodels.pipeline import score as compute

        staged = compute(_all(refs), _run_date(data_interval_end), run_id)
        staged["validate_seconds"] = validation["seconds"]
        return staged

    @task(outlets=PUBLISHED, multiple_outputs=False)
    def publish(staged: dict, refs, data_interval_end=None, run_id=None) -> dict:
        from riskmodels.pipeline import publish as write

        refs = _all(refs)
        steps = {"ingest": round(sum(r["seconds"] for r in refs), 4),
                 "validate": staged["validate_seconds"], "score": staged["seconds"]}
        return write(staged, refs, _run_date(data_interval_end), run_id, steps)

    @task(trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def alerts(published, data_interval_end=None, run_id=None) -> dict:
        """Runs even when validation failed (the failure is an alert), then fails the run if
        nothing was published; raises (and so retries) while a digest cannot be delivered."""
        from airflow.sdk.exceptions import AirflowFailException
        from riskmodels.pipeline import alert, run_status

        run_date = _run_date(data_interval_end)
        summary = alert(run_date, run_id)
        if summary["failed"]:
            raise RuntimeError(f"digest(s) {summary['failed']} not delivered; they stay queued for the retry")
        if run_status(run_id) != "published":
            raise AirflowFailException(f"run {run_id} published nothing for {run_date}; alerts were sent")
        return summary

    @task
    def report(alerted: dict, data_interval_end=None) -> str:
        from riskmodels.htmlreport import build_report

        return str(build_report(_run_date(data_interval_end)))

    @teardown
    @task(multiple_outputs=False)
    def cleanup() -> dict:
        """Storage housekeeping, whatever happened upstream (orphans of failed runs age out); a
        teardown, so it never decides the run's state."""
        from riskmodels.pipeline import cleanup as housekeeping

        return housekeeping()

    refs = ingest.expand(dataset=list_datasets())
    checked = validate(refs)
    report(alerts(publish(score(refs, checked), refs))) >> cleanup()


ai_stack_daily()
