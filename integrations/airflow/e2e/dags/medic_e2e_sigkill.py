"""Scenario 4: the task process is SIGKILLed (as the OOM killer would). No callback runs in the
dead process; Medic's reconciler finds the failed task instance through the REST API."""

import os
import signal

from airflow.sdk import DAG, Asset
from airflow.providers.standard.operators.python import PythonOperator

from _medic_e2e_common import START
from medic_airflow import medic_callbacks


def load_big(**context):
    os.kill(os.getpid(), signal.SIGKILL)


with DAG("medic_e2e_sigkill", schedule=None, start_date=START, catchup=False, tags=["medic-e2e"],
         default_args={"retries": 0, **medic_callbacks()}):
    PythonOperator(task_id="load_big", python_callable=load_big, outlets=[Asset("lake.e2e_sigkill")])
