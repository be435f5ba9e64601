"""Scenario 1: a transient connection error on the first try, reported by the notifier.
Medic diagnoses infra_transient, clears the task through Airflow's REST API, the next try
succeeds and the success callback resolves the RCA."""

from airflow.sdk import DAG, Asset
from airflow.providers.standard.operators.python import PythonOperator

from _medic_e2e_common import START, fail_while
from medic_airflow import medic_callbacks


def load_orders(**context):
    if fail_while(context):
        # What a dropped connection to an internal service looks like from Python.
        raise ConnectionResetError(104, "Connection reset by peer")
    print("loaded lake.e2e_transient on try", context["ti"].try_number)


with DAG("medic_e2e_transient", schedule=None, start_date=START, catchup=False, tags=["medic-e2e"],
         default_args={"retries": 0, **medic_callbacks()}):
    PythonOperator(task_id="load_orders", python_callable=load_orders, outlets=[Asset("lake.e2e_transient")])
