"""
### review: the candidates from regulators' feeds and 8-Ks, as Airflow Required Actions

When `regulatory_feeds` stores new candidates (its Asset), this DAG lists the pending ones and
asks an analyst about each through the standard provider's human-in-the-loop operator
(`HITLEntryOperator`, Airflow 3.1+): the evidence, the matched text, the rule that fired and the
suggested row appear under the UI's **Required Actions**; the analyst chooses Accept, Reject or
Later, with a note and optional edits (`field=value; field=value`). `record` applies the answers
exactly as `riskmodels review accept | reject` does (the row checked against its dataset's
suite; the responder is the reviewer) and, when a row was accepted, updates the reviewed-rows
Asset, which starts `ai_stack_daily`: the accepted row counts from that run.

A question not answered within 7 days becomes Later (asked again by the next run).
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import HITLEntryOperator
from airflow.sdk import Param, dag, task

from riskmodels.assets import FEED_CANDIDATES, REVIEWED_ROWS
from riskmodels.dag_defaults import source_default_args


def _form(request: dict) -> dict:
    return {"subject": request["subject"], "body": request["body"]}


@dag(
    dag_id="review",
    schedule=FEED_CANDIDATES,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=source_default_args(),
    tags=["riskmodels", "review"],
    doc_md=__doc__,
)
def review():
    @task(multiple_outputs=False)
    def waiting() -> list:
        """The pending candidates (at most 50, oldest first) with their evidence as Markdown."""
        from riskmodels.review import hitl_requests

        return hitl_requests()

    requests = waiting()
    decide = HITLEntryOperator.partial(
        task_id="decide",
        options=["Accept", "Reject", "Later"],
        defaults=["Later"],
        params={"note": Param("", type="string", description="why (required to reject)"),
                "edits": Param("", type="string", description="field=value; field=value (optional)")},
        response_timeout=timedelta(days=7),
        retries=0,
    ).expand_kwargs(requests.map(_form))

    @task(multiple_outputs=False)
    def record(requests: list, decisions: list) -> dict:
        """Accept or reject each answered candidate; a refused edit fails the task with the field named."""
        from airflow.sdk.exceptions import AirflowFailException

        from riskmodels.review import record_decisions

        out = record_decisions(list(requests), [dict(d) for d in decisions])
        if out["errors"]:
            raise AirflowFailException("; ".join(f"{k}: {v}" for k, v in out["errors"].items()))
        return out

    @task(outlets=[REVIEWED_ROWS], multiple_outputs=False)
    def announce(result: dict) -> list:
        """Updates the reviewed-rows Asset (starts ai_stack_daily) only when a row was accepted."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not result["accepted"]:
            raise AirflowSkipException("nothing accepted: the scores' inputs did not change")
        return result["accepted"]

    announce(record(requests, decide.output))


review()
