"""Scenario 2: a code error (KeyError) — Medic diagnoses code_error, no automatic action."""

from airflow.sdk import DAG, Asset
from airflow.providers.standard.operators.python import PythonOperator

from _medic_e2e_common import START
from medic_airflow import medic_callbacks


def transform(**context):
    row = {"id": 1, "amount": 10}
    return row["customer_id"]


with DAG("medic_e2e_code_error", schedule=None, start_date=START, catchup=False, tags=["medic-e2e"],
         default_args={"retries": 0, **medic_callbacks()}):
    PythonOperator(task_id="transform", python_callable=transform, outlets=[Asset("lake.e2e_code_error")])
