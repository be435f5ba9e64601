"""Shared helpers of the end-to-end DAGs (test/airflowE2e.test.ts); defines no DAG itself.
Importable because Airflow puts the DAGs folder on sys.path."""

from __future__ import annotations

import datetime

START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def fail_while(context, default_fail_tries: int = 1) -> bool:
    """True while this try should fail: ``dag_run.conf["fail_tries"]`` (default 1) tries fail,
    the next succeeds — the test controls the outcome through the run's conf."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    fail_tries = int(conf.get("fail_tries", default_fail_tries))
    return context["ti"].try_number <= fail_tries
