"""What the source DAGs (``sec_filings``, ``epoch_compute``) share: the run date of a data interval
and their task defaults. Cheap to import (the standard library and :mod:`riskmodels.notify`)."""
from __future__ import annotations

import datetime
from datetime import timedelta


def run_date(data_interval_end) -> datetime.date:
    """The UTC date a run publishes as of: the data interval's end (pendulum or datetime)."""
    d = data_interval_end.astimezone(datetime.timezone.utc)
    return datetime.date(d.year, d.month, d.day)


def source_default_args() -> dict:
    """Three retries with exponential backoff (2 min to 30 min) and the operator notification."""
    from .notify import RunFailureNotifier

    return {"retries": 3, "retry_delay": timedelta(minutes=2), "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=30), "on_failure_callback": RunFailureNotifier()}
