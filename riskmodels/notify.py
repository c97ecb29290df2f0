"""Operator notification of failed DAG runs: once per failed run, never once per retry.

A task-level ``on_failure_callback`` (Airflow calls it when a task has failed for good, after
its retries; ``on_retry_callback`` is separate). The first failing task of a run claims the run
in ``operator_notifications`` and sends the notice through Airflow's ``SmtpNotifier`` on the
``smtp_default`` connection, or writes an ``.eml`` under ``<var>/outbox/operator/`` when no
connection is configured; later failures of the same run find the claim and stay quiet.
"""
from __future__ import annotations

import html

from airflow.sdk import BaseNotifier


class RunFailureNotifier(BaseNotifier):
    """Notify the operators (``operator_recipients`` in config/alert_rules.yaml) once per failed run."""

    def notify(self, context):
        import datetime as dt

        import sqlalchemy as sa

        from . import store
        from .alerts import _one_line, operator_notifications, rules_config, smtp_settings
        from .config import get_settings

        ti = context["ti"]
        dag_id, run_id, task_id = ti.dag_id, ti.run_id, ti.task_id
        engine = store.get_engine()
        with store.transaction(engine) as conn:
            done = conn.execute(sa.select(operator_notifications.c.run_id).where(
                (operator_notifications.c.dag_id == dag_id) & (operator_notifications.c.run_id == run_id))).first()
            if done:
                return
            conn.execute(operator_notifications.insert().values(dag_id=dag_id, run_id=run_id, task_id=task_id,
                                                                notified_at=store._now(), transport="pending"))
        cfg = rules_config()
        error = context.get("exception")
        subject = _one_line(f"[riskmodels] DAG {dag_id} run {run_id} failed in task {task_id}")
        body = (f"<p>Task <b>{html.escape(task_id)}</b> of DAG <b>{html.escape(dag_id)}</b> failed in run "
                f"<code>{html.escape(run_id)}</code> after its retries.</p><pre>{html.escape(str(error))[:4000]}</pre>")
        hook = smtp_settings()
        if hook is not None:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            SmtpNotifier(to=cfg["operator_recipients"], from_email=hook.from_email or cfg["from_email"],
                         subject=subject, html_content=body).notify(context)
            transport = "smtp"
        else:
            from email.message import EmailMessage

            msg = EmailMessage()
            msg["Subject"], msg["From"] = subject, cfg["from_email"]
            msg["To"] = ", ".join(cfg["operator_recipients"])
            msg.set_content(f"Task {task_id} of DAG {dag_id} failed in run {run_id}.\n\n{error}")
            msg.add_alternative(body, subtype="html")
            out = get_settings().var / cfg.get("outbox_dir", "outbox") / "operator"
            out.mkdir(parents=True, exist_ok=True)
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
            (out / f"{dag_id}__{safe}.eml").write_text(msg.as_string(), encoding="utf-8")
            transport = "file"
        with store.transaction(engine) as conn:
            conn.execute(operator_notifications.update().where(
                (operator_notifications.c.dag_id == dag_id) & (operator_notifications.c.run_id == run_id))
                .values(transport=transport, notified_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)))
