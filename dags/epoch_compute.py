"""
### epoch_compute: Epoch AI open data -> fetch (conditional GET) -> validate -> publish or quarantine

Every day at 05:00 UTC this DAG fetches each dataset of `config/epoch.yaml` (Epoch AI, CC BY
4.0: GPU clusters, frontier AI data centers, frontier AI models) through the one fetch-and-land
client with a conditional GET. A new release (new bytes) is parsed with its columns selected by
name (a dropped or renamed column fails with the file, row and column named), validated with the
suite of its table (`expectations/epoch_*.json`) and published to `epoch_clusters`,
`epoch_data_centers` or `epoch_frontier_models` (one transaction with its `epoch_releases` row); a
malformed release is quarantined, the previous one stays what `ai_stack_daily` scores, and the
digest says why.

When a release was published, `announce` updates the Epoch Assets, which start `ai_stack_daily`
(the compute markets `compute.epoch.*` and the owner -> user compute links). Reruns are safe: a 304 or known bytes change nothing.

Offline by default (the copies in `data/recorded/epoch` replayed by a loopback server under
Epoch's URLs); `RISKMODELS_SOURCES_MODE=live` fetches epoch.ai.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, TriggerRule, dag, task

from riskmodels.assets import EPOCH_DATA
from riskmodels.dag_defaults import run_date as _run_date
from riskmodels.dag_defaults import source_default_args


@dag(
    dag_id="epoch_compute",
    schedule=CronDataIntervalTimetable("0 5 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=source_default_args(),
    tags=["riskmodels", "sources", "epoch"],
    doc_md=__doc__,
)
def epoch_compute():
    @task(multiple_outputs=False)
    def fetch_and_load(data_interval_end=None, run_id=None) -> dict:
        """Conditional GET of each dataset; a new release is validated and published or quarantined."""
        from riskmodels.sources.epoch.daily import run_day

        return run_day(_run_date(data_interval_end), run_id)

    @task(outlets=EPOCH_DATA, multiple_outputs=False)
    def announce(summary: dict) -> list:
        """Updates the Epoch Assets only when a release was published (a skipped task emits none)."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not summary["published"]:
            raise AirflowSkipException("no new Epoch release: the Assets stay as they were")
        return summary["published"]

    @task(trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def alerts(summary: dict, data_interval_end=None, run_id=None) -> dict:
        """The digest lists a quarantined release (failed validation) with its reason."""
        from riskmodels.pipeline import alert

        out = alert(_run_date(data_interval_end), run_id)
        if out["failed"]:
            raise RuntimeError(f"digest(s) {out['failed']} not delivered; they stay queued for the retry")
        return out

    summary = fetch_and_load()
    announce(summary)
    alerts(summary)


epoch_compute()
