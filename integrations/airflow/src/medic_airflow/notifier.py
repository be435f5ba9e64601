"""MedicNotifier: an Airflow notifier that reports task failures, retries and successes to Medic.

Usable as ``on_failure_callback``, ``on_retry_callback`` and ``on_success_callback`` on a DAG
or a task (or in ``default_args``)::

    from medic_airflow import MedicNotifier, medic_callbacks

    default_args = {**medic_callbacks()}                       # all three, event inferred
    # or, one by one:
    task = PythonOperator(..., on_failure_callback=MedicNotifier(event="failure"))

It never raises into the task: every problem (Medic down, bad token, an odd context) is logged
and the callback returns.
"""

from __future__ import annotations

import datetime as _dt
import logging
import socket
from typing import Any, Iterable, Mapping, Sequence

from .client import (
    DEFAULT_ATTEMPTS,
    DEFAULT_CONN_ID,
    DEFAULT_TIMEOUT_S,
    MedicTarget,
    SendResult,
    resolve_target,
    send_signal,
)
from .tables import is_table_name, tables_from_outlets

try:  # Airflow 3
    from airflow.sdk import BaseNotifier as _Base  # type: ignore
except Exception:  # pragma: no cover - depends on the installed Airflow
    try:  # Airflow 2.6+
        from airflow.notifications.basenotifier import BaseNotifier as _Base  # type: ignore
    except Exception:  # no Airflow at all: still importable (unit tests, tooling)
        _Base = object  # type: ignore[assignment,misc]

_fallback_log = logging.getLogger("medic_airflow")

EVENTS = ("failure", "retry", "success")
MAX_MESSAGE_CHARS = 65_536
#: task_id sent for a DAG-level callback whose context names no task instance.
DAG_LEVEL_TASK_ID = "__dag__"


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, str) and value:
        return value
    return None


def _as_datetime(value: Any) -> _dt.datetime | None:
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
    if isinstance(value, str) and value:
        try:
            parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            return None
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _text(value: Any, limit: int = 250) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[:limit] if text else None


def _state_value(state: Any) -> str | None:
    if state is None:
        return None
    return str(getattr(state, "value", state)).lower()


def qualified_type(exc: BaseException) -> str:
    cls = type(exc)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in ("builtins", "__main__", "") else f"{module}.{name}"


def exception_payload(exc: Any) -> dict[str, str] | None:
    """``{"type": "psycopg2.OperationalError", "message": "..."}`` or None.

    Airflow passes an exception object; some paths (zombies, external kills on Airflow 2) pass
    a string instead — then the type is empty and the string is the message."""
    if exc is None:
        return None
    if isinstance(exc, BaseException):
        message = str(exc)
        if not message and exc.args:
            message = repr(exc.args)
        return {"type": qualified_type(exc)[:500], "message": message[:MAX_MESSAGE_CHARS]}
    return {"type": "", "message": str(exc)[:MAX_MESSAGE_CHARS]}


def infer_event(context: Mapping[str, Any]) -> str:
    """failure | retry | success, from the task instance state, the exception and (DAG-level
    callbacks) the reason Airflow gives."""
    ti = context.get("ti") or context.get("task_instance")
    state = _state_value(getattr(ti, "state", None)) if ti is not None else None
    if state == "up_for_retry":
        return "retry"
    if state in ("failed", "upstream_failed"):
        return "failure"
    if state == "success" and context.get("exception") is None:
        return "success"
    reason = str(context.get("reason") or "").lower()
    if context.get("exception") is not None or "fail" in reason or "timed_out" in reason:
        if ti is not None and reason == "":
            try_number = _int(getattr(ti, "try_number", None))
            max_tries = _int(getattr(ti, "max_tries", None))
            if try_number is not None and max_tries is not None and try_number <= max_tries:
                return "retry"
        return "failure"
    return "success"


def build_payload(
    context: Mapping[str, Any],
    event: str | None = None,
    tables: Sequence[str] | None = None,
    airflow: str | None = None,
    now: _dt.datetime | None = None,
) -> dict[str, Any]:
    """The DESIGN 3.1 body for one callback context."""
    ti = context.get("ti") or context.get("task_instance")
    task = getattr(ti, "task", None) if ti is not None else None
    task = task or context.get("task")
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    event = event or infer_event(context)

    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None)
    run_id = getattr(ti, "run_id", None) or context.get("run_id") or getattr(dag_run, "run_id", None)
    task_id = getattr(ti, "task_id", None) or DAG_LEVEL_TASK_ID

    start = _as_datetime(getattr(ti, "start_date", None))
    end = _as_datetime(getattr(ti, "end_date", None))
    if end is None and start is not None:
        end = now or _dt.datetime.now(_dt.timezone.utc)
    duration = getattr(ti, "duration", None)
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        duration = (end - start).total_seconds() if (start and end) else None
    if duration is not None and duration < 0:
        duration = 0.0

    logical = context.get("logical_date")
    if logical is None:
        logical = getattr(dag_run, "logical_date", None)

    operator = None
    if task is not None:
        operator = getattr(task, "task_type", None) or type(task).__name__
    operator = operator or getattr(ti, "operator", None)

    if tables is None:
        outlets = getattr(task, "outlets", None) if task is not None else None
        if not outlets:
            outlets = context.get("outlets")
        tables = tables_from_outlets(outlets)
    tables = [t for t in tables if is_table_name(t)]

    payload: dict[str, Any] = {
        "event": event,
        "dag_id": str(dag_id or "unknown_dag"),
        "task_id": str(task_id),
        "run_id": str(run_id or "unknown_run"),
        "map_index": _int(getattr(ti, "map_index", None)) if _int(getattr(ti, "map_index", None)) is not None else -1,
        "try_number": max(0, _int(getattr(ti, "try_number", None)) or 0),
        "max_tries": _int(getattr(ti, "max_tries", None)),
        "logical_date": _iso(logical),
        "start_date": _iso(start),
        "end_date": _iso(end),
        "duration_s": float(duration) if duration is not None else None,
        "exception": exception_payload(context.get("exception")) if event != "success" else None,
        "operator": _text(operator),
        "hostname": _text(getattr(ti, "hostname", None) or socket.getfqdn()),
        "queue": _text(getattr(ti, "queue", None) or getattr(task, "queue", None)),
        "pool": _text(getattr(ti, "pool", None) or getattr(task, "pool", None)),
    }
    if payload["max_tries"] is not None and payload["max_tries"] < 0:
        payload["max_tries"] = None
    if tables:
        payload["tables"] = list(dict.fromkeys(tables))[:100]
    if airflow:
        payload["airflow"] = airflow
    return payload


class MedicNotifier(_Base):  # type: ignore[misc,valid-type]
    """Reports a task (or DAG run) outcome to Pipeline Medic.

    :param event: ``"failure"``, ``"retry"`` or ``"success"``; None (default) infers it from the
        context (task state, exception) so one instance can serve all three callbacks.
    :param tables: the tables the task writes; default: from the task's outlets (see
        :mod:`medic_airflow.tables`).
    :param conn_id: Airflow connection with Medic's URL (host/schema/port) and token (password);
        extra ``{"airflow": "main"}`` names this Airflow instance. Default ``medic_default``.
    :param url: / :param token: override the connection and the environment
        (``MEDIC_URL``, ``MEDIC_TOKEN``).
    :param airflow: this Airflow instance's name in Medic (``AIRFLOW_<NAME>_URL``); default
        the connection extra, else ``MEDIC_AIRFLOW_INSTANCE``, else omitted.
    :param timeout_s: per HTTP attempt (default 5 s).
    :param attempts: HTTP attempts for connection errors, timeouts, 5xx and 429 (default 4,
        backoff 0.5 s, 1 s, 2 s with jitter).
    """

    def __init__(
        self,
        event: str | None = None,
        *,
        tables: Iterable[str] | None = None,
        conn_id: str | None = DEFAULT_CONN_ID,
        url: str | None = None,
        token: str | None = None,
        airflow: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        if event is not None and event not in EVENTS:
            raise ValueError(f"event must be one of {EVENTS} or None (got {event!r})")
        if _Base is not object:
            super().__init__()
        self.event = event
        self.tables = list(tables) if tables is not None else None
        self.conn_id = conn_id
        self.url = url
        self.token = token
        self.airflow = airflow
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.last_result: SendResult | None = None

    @property
    def _logger(self) -> logging.Logger:
        try:
            return self.log  # type: ignore[attr-defined,return-value]
        except Exception:
            return _fallback_log

    def __call__(self, *args: Any) -> None:  # the base class re-raises: this never does
        try:
            if len(args) == 1:
                context = args[0]
            else:
                context = {"dag": args[0]} if args else {}
            if _Base is not object:
                try:
                    self._update_context(context)  # type: ignore[attr-defined]
                    self.render_template_fields(context)  # type: ignore[attr-defined]
                except Exception as error:
                    self._logger.warning("medic_airflow: could not render template fields: %s", error)
            self.notify(context)
        except Exception as error:  # pragma: no cover - notify already guards itself
            self._logger.error("medic_airflow: callback failed, Medic was not told: %s", error)

    def target(self) -> MedicTarget | None:
        return resolve_target(url=self.url, token=self.token, conn_id=self.conn_id, airflow=self.airflow)

    def notify(self, context: Mapping[str, Any]) -> None:
        try:
            target = self.target()
            if target is None:
                self._logger.warning(
                    "medic_airflow: no Medic URL (connection %r, MEDIC_URL): the %s was not reported",
                    self.conn_id, self.event or "callback",
                )
                return
            payload = build_payload(context, event=self.event, tables=self.tables, airflow=target.airflow)
            result = send_signal(target, payload, timeout_s=self.timeout_s, attempts=self.attempts)
            self.last_result = result
            where = f"{payload['dag_id']}.{payload['task_id']} {payload['run_id']} try {payload['try_number']}"
            if result.ok:
                self._logger.info(
                    "medic_airflow: reported %s of %s to %s (HTTP %s%s)",
                    payload["event"], where, target.url, result.status, ", duplicate" if result.duplicate else "",
                )
            else:
                self._logger.error(
                    "medic_airflow: could not report %s of %s to %s after %d attempt(s): %s",
                    payload["event"], where, target.url, result.attempts, result.error,
                )
        except Exception as error:
            self._logger.error("medic_airflow: callback failed, Medic was not told: %s", error)


def medic_callbacks(**kwargs: Any) -> dict[str, MedicNotifier]:
    """``{"on_failure_callback": …, "on_retry_callback": …, "on_success_callback": …}`` for
    ``default_args`` or a DAG/task; keyword arguments go to each :class:`MedicNotifier`."""
    return {
        "on_failure_callback": MedicNotifier(event="failure", **kwargs),
        "on_retry_callback": MedicNotifier(event="retry", **kwargs),
        "on_success_callback": MedicNotifier(event="success", **kwargs),
    }
