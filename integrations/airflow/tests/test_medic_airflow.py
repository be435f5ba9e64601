"""Unit tests of medic_airflow: outlet → table mapping, target resolution, the HTTP sender
(against a real local HTTP server) and the notifier's payload. Run with the Airflow venv:
``$(scripts/airflow-env.sh)/bin/python -m pytest integrations/airflow/tests``."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from medic_airflow import (
    MedicNotifier,
    MedicTarget,
    build_payload,
    exception_payload,
    infer_event,
    medic_callbacks,
    resolve_target,
    send_signal,
    table_from_outlet,
    table_from_uri,
    tables_from_outlets,
)

UTC = dt.timezone.utc


# --------------------------------------------------------------------------- a local Medic


class FakeMedic:
    """A loopback HTTP server answering POST /v1/signals/airflow with scripted statuses."""

    def __init__(self, statuses=None, delay_s: float = 0.0):
        self.statuses = list(statuses or [])
        self.delay_s = delay_s
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append({"path": self.path, "auth": self.headers.get("authorization"), "body": body})
                if outer.delay_s:
                    import time

                    time.sleep(outer.delay_s)
                status = outer.statuses.pop(0) if outer.statuses else 202
                payload = json.dumps({"duplicate": status == 200, "signal_id": "x"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def medic():
    servers: list[FakeMedic] = []

    def make(statuses=None, delay_s=0.0):
        server = FakeMedic(statuses, delay_s)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


no_sleep = lambda _s: None  # noqa: E731


# --------------------------------------------------------------------------- tables


def test_tables_from_asset_names_and_uris():
    from airflow.sdk import Asset, AssetAlias

    outlets = [
        Asset("lake.orders"),
        Asset(name="lake.customers", uri="s3://bucket/lake/customers/"),
        Asset("postgres://db:5432/warehouse/lake/payments"),
        Asset(name="x", uri="file:///data/x", extra={"medic_table": "lake.files"}),
        AssetAlias("some-alias"),
        Asset("lake.orders"),
    ]
    assert tables_from_outlets(outlets) == ["lake.orders", "lake.customers", "lake.payments", "lake.files"]


def test_table_from_uri_rules():
    assert table_from_uri("lake.orders") == "lake.orders"
    assert table_from_uri("s3://bucket/lake/orders/") == "lake.orders"
    assert table_from_uri("iceberg://catalog/lake/orders") == "lake.orders"
    assert table_from_uri("s3://bucket/orders") == "orders"
    assert table_from_uri("kafka://broker:9092") == "broker"
    assert table_from_uri("lake/orders") == "lake.orders"
    assert table_from_uri("s3://bucket/dt=2024 01/some file") == "dt_2024_01.some_file"
    assert table_from_uri("") is None
    assert table_from_outlet(None) is None
    assert table_from_outlet("lake.x") == "lake.x"
    assert tables_from_outlets(None) == []


# --------------------------------------------------------------------------- target


def test_target_from_arguments_connection_and_environment():
    conn = SimpleNamespace(host="medic.internal", schema="https", port=8443, password="tok", conn_type="http",
                           extra_dejson={"airflow": "main"})
    target = resolve_target(connection_getter=lambda _id: conn, env={})
    assert (target.url, target.token, target.airflow) == ("https://medic.internal:8443", "tok", "main")

    conn2 = SimpleNamespace(host="http://medic:8080/prefix/", schema=None, port=None, password=None, extra_dejson={})
    target = resolve_target(connection_getter=lambda _id: conn2, env={"MEDIC_TOKEN": "envtok"})
    assert (target.url, target.token) == ("http://medic:8080/prefix", "envtok")

    target = resolve_target(connection_getter=lambda _id: None,
                            env={"MEDIC_URL": "http://m:1/", "MEDIC_TOKEN": "t", "MEDIC_AIRFLOW_INSTANCE": "prod"})
    assert (target.url, target.token, target.airflow, target.source) == ("http://m:1", "t", "prod", "environment")

    target = resolve_target(url="http://explicit", token="x", airflow="a", connection_getter=lambda _id: conn, env={})
    assert (target.url, target.token, target.airflow) == ("http://explicit", "x", "a")

    assert resolve_target(connection_getter=lambda _id: None, env={}) is None


def test_target_from_a_real_airflow_connection(monkeypatch):
    # Airflow's environment-variable secrets backend, through the real BaseHook lookup.
    monkeypatch.setenv("AIRFLOW_CONN_MEDIC_DEFAULT", json.dumps({
        "conn_type": "http", "host": "127.0.0.1", "schema": "http", "port": 9999,
        "password": "secret-token", "extra": {"airflow": "main"},
    }))
    target = resolve_target(env={})
    assert (target.url, target.token, target.airflow, target.source) == \
        ("http://127.0.0.1:9999", "secret-token", "main", "connection medic_default")
    monkeypatch.delenv("AIRFLOW_CONN_MEDIC_DEFAULT")
    assert resolve_target(env={}) is None  # a missing connection is not an error


# --------------------------------------------------------------------------- sender


def test_send_retries_5xx_then_succeeds(medic):
    server = medic([503, 502, 202])
    result = send_signal(MedicTarget(url=server.url, token="tok"), {"event": "failure"}, sleep=no_sleep)
    assert result.ok and result.status == 202 and result.attempts == 3
    assert [r["auth"] for r in server.requests] == ["Bearer tok"] * 3
    assert server.requests[0]["path"] == "/v1/signals/airflow"


def test_send_does_not_retry_4xx(medic):
    server = medic([400])
    result = send_signal(MedicTarget(url=server.url, token="tok"), {"event": "failure"}, sleep=no_sleep)
    assert not result.ok and result.status == 400 and result.attempts == 1


def test_send_retries_429(medic):
    server = medic([429, 202])
    result = send_signal(MedicTarget(url=server.url), {"event": "failure"}, sleep=no_sleep)
    assert result.ok and result.attempts == 2


def test_send_duplicate_is_ok(medic):
    server = medic([200])
    result = send_signal(MedicTarget(url=server.url), {"event": "failure"}, sleep=no_sleep)
    assert result.ok and result.duplicate


def test_send_connection_refused_is_retried_and_never_raises():
    slept: list[float] = []
    result = send_signal(MedicTarget(url=f"http://127.0.0.1:{closed_port()}"), {"event": "failure"}, attempts=3,
                         sleep=slept.append)
    assert not result.ok and result.status is None and result.attempts == 3
    assert len(slept) == 2 and slept[1] > slept[0]
    assert "refused" in result.error.lower() or "errno" in result.error.lower()


def test_send_times_out(medic):
    server = medic([202, 202], delay_s=1.0)
    result = send_signal(MedicTarget(url=server.url), {"event": "failure"}, timeout_s=0.2, attempts=2, sleep=no_sleep)
    assert not result.ok and result.attempts == 2


# --------------------------------------------------------------------------- payload


class Boom(Exception):
    pass


def fake_context(state="failed", exception=None, try_number=1, max_tries=0, outlets=None):
    from airflow.sdk import Asset

    task = SimpleNamespace(task_type="PythonOperator", outlets=outlets if outlets is not None else [Asset("lake.orders")],
                           queue="default", pool="default_pool")
    ti = SimpleNamespace(dag_id="orders_hourly", task_id="load_orders", run_id="manual__1", map_index=-1,
                         try_number=try_number, max_tries=max_tries, state=state, task=task, hostname="worker-7",
                         queue="default", pool="default_pool",
                         start_date=dt.datetime(2026, 1, 1, 8, 0, 0, tzinfo=UTC),
                         end_date=dt.datetime(2026, 1, 1, 8, 6, 52, 500000, tzinfo=UTC))
    return {"ti": ti, "task_instance": ti, "logical_date": dt.datetime(2026, 1, 1, 8, tzinfo=UTC),
            "exception": exception, "run_id": "manual__1"}


def test_payload_has_the_design_fields():
    error = ConnectionResetError(104, "Connection reset by peer")
    payload = build_payload(fake_context(exception=error), event="failure", airflow="main")
    assert payload == {
        "event": "failure", "dag_id": "orders_hourly", "task_id": "load_orders", "run_id": "manual__1",
        "map_index": -1, "try_number": 1, "max_tries": 0,
        "logical_date": "2026-01-01T08:00:00+00:00", "start_date": "2026-01-01T08:00:00+00:00",
        "end_date": "2026-01-01T08:06:52.500000+00:00", "duration_s": 412.5,
        "exception": {"type": "ConnectionResetError", "message": "[Errno 104] Connection reset by peer"},
        "operator": "PythonOperator", "hostname": "worker-7", "queue": "default", "pool": "default_pool",
        "tables": ["lake.orders"], "airflow": "main",
    }


def test_exception_type_is_qualified():
    assert exception_payload(Boom("x")) == {"type": f"{__name__}.Boom", "message": "x"}
    assert exception_payload(KeyError("customer_id")) == {"type": "KeyError", "message": "'customer_id'"}
    assert exception_payload("Task received SIGTERM signal") == {"type": "", "message": "Task received SIGTERM signal"}
    assert exception_payload(None) is None


def test_event_inference():
    assert infer_event(fake_context(state="failed", exception=Boom())) == "failure"
    assert infer_event(fake_context(state="up_for_retry", exception=Boom())) == "retry"
    assert infer_event(fake_context(state="success")) == "success"
    # No state yet, an exception and tries left: a retry.
    assert infer_event(fake_context(state=None, exception=Boom(), try_number=1, max_tries=2)) == "retry"
    assert infer_event({"reason": "task_failure", "run_id": "r"}) == "failure"
    assert infer_event({"reason": "success", "run_id": "r"}) == "success"


def test_success_payload_has_no_exception_and_explicit_tables_win():
    payload = build_payload(fake_context(state="success", exception=Boom("stale")), event="success", tables=["lake.other"])
    assert payload["exception"] is None and payload["tables"] == ["lake.other"] and "airflow" not in payload


def test_dag_level_context_without_ti():
    dag = SimpleNamespace(dag_id="orders_hourly")
    payload = build_payload({"dag": dag, "run_id": "scheduled__x", "reason": "task_failure"})
    assert (payload["dag_id"], payload["task_id"], payload["run_id"], payload["event"]) == \
        ("orders_hourly", "__dag__", "scheduled__x", "failure")


# --------------------------------------------------------------------------- notifier


def test_notifier_is_an_airflow_notifier_and_sends(medic):
    from airflow.sdk import BaseNotifier

    server = medic([202])
    notifier = MedicNotifier(event="failure", url=server.url, token="tok", airflow="main", conn_id=None)
    assert isinstance(notifier, BaseNotifier)
    notifier(fake_context(exception=ConnectionResetError(104, "Connection reset by peer")))
    assert notifier.last_result.ok
    body = server.requests[0]["body"]
    assert body["event"] == "failure" and body["exception"]["type"] == "ConnectionResetError"
    assert body["tables"] == ["lake.orders"] and body["airflow"] == "main"


def test_notifier_never_raises(medic):
    notifier = MedicNotifier(url=f"http://127.0.0.1:{closed_port()}", conn_id=None, attempts=2)
    notifier(fake_context(exception=Boom()))  # Medic down: logged, not raised
    assert notifier.last_result is not None and not notifier.last_result.ok
    MedicNotifier(url="http://127.0.0.1:1", conn_id=None, attempts=1)({"weird": object()})  # odd context
    MedicNotifier(conn_id=None)(fake_context())  # no URL at all: a warning


def test_notifier_rejects_unknown_event():
    with pytest.raises(ValueError):
        MedicNotifier(event="explode")


def test_medic_callbacks():
    callbacks = medic_callbacks(url="http://m")
    assert sorted(callbacks) == ["on_failure_callback", "on_retry_callback", "on_success_callback"]
    assert callbacks["on_retry_callback"].event == "retry"
