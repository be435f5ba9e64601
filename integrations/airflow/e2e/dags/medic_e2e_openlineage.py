"""Scenario 3: the same transient failure as scenario 1, reported only through Airflow's
OpenLineage provider (HTTP transport → Medic's /api/v1/lineage); no notifier on this DAG.
The environment sets [openlineage] selective_enable, so only this DAG emits events."""

from airflow.sdk import DAG, Asset
from airflow.providers.openlineage.utils.selective_enable import enable_lineage
from airflow.providers.standard.operators.python import PythonOperator

from _medic_e2e_common import START, fail_while


def load_events(**context):
    if fail_while(context):
        raise ConnectionResetError(104, "Connection reset by peer")
    print("loaded lake.e2e_lineage on try", context["ti"].try_number)


with DAG("medic_e2e_openlineage", schedule=None, start_date=START, catchup=False, tags=["medic-e2e"],
         default_args={"retries": 0}) as dag:
    # A scheme-less Asset has no OpenLineage converter, so the event has no outputs: Medic maps
    # the job name "medic_e2e_openlineage.load_events" to lake.e2e_lineage through its catalog.
    PythonOperator(task_id="load_events", python_callable=load_events, outlets=[Asset("lake.e2e_lineage")])
    enable_lineage(dag)
