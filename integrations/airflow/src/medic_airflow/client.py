"""Sending one callback to Medic: ``POST {url}/v1/signals/airflow`` with a bearer token.

Standard library only. Retries connection errors, timeouts, 5xx and 429 (Medic's rate limit)
with exponential backoff; any other 4xx is final (the body is wrong or the token is refused:
sending it again cannot help). Never raises: the outcome is returned and logged.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

log = logging.getLogger("medic_airflow")

SIGNALS_PATH = "/v1/signals/airflow"
DEFAULT_CONN_ID = "medic_default"
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0


@dataclass
class MedicTarget:
    """Where to send: the base URL of Medic's API (no trailing slash) and the bearer token."""

    url: str
    token: str | None = None
    airflow: str | None = None
    source: str = "arguments"


@dataclass
class SendResult:
    ok: bool
    status: int | None = None
    attempts: int = 0
    body: Any = None
    error: str | None = None
    duplicate: bool = False
    history: list[str] = field(default_factory=list)


def _url_from_connection(conn: Any) -> str | None:
    host = (getattr(conn, "host", None) or "").strip()
    if not host:
        return None
    schema = (getattr(conn, "schema", None) or "").strip()
    conn_type = (getattr(conn, "conn_type", None) or "").strip().lower()
    if "://" in host:
        base = host.rstrip("/")
        scheme, _, rest = base.partition("://")
        hostpart, slash, path = rest.partition("/")
    else:
        scheme = schema if schema in ("http", "https") else ("https" if conn_type == "https" else "http")
        hostpart, slash, path = host.partition("/")
        hostpart = hostpart.rstrip("/")
    port = getattr(conn, "port", None)
    if port and ":" not in hostpart.split("]")[-1]:
        hostpart = f"{hostpart}:{port}"
    url = f"{scheme}://{hostpart}"
    if slash and path.strip("/"):
        url += "/" + path.strip("/")
    elif schema and schema not in ("http", "https") and schema.strip("/"):
        # A path prefix in "schema" (Medic behind a reverse proxy at /medic).
        url += "/" + schema.strip("/")
    return url


def _get_connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it does not exist (or Airflow is not importable)."""
    try:  # Airflow 3 (task SDK; also works in the DAG processor)
        from airflow.sdk import BaseHook  # type: ignore
    except ImportError:
        try:  # Airflow 2
            from airflow.hooks.base import BaseHook  # type: ignore
        except ImportError:
            return None
    try:
        return BaseHook.get_connection(conn_id)
    except Exception as error:  # AirflowNotFoundException and friends
        log.debug("medic_airflow: connection %s not available: %s", conn_id, error)
        return None


def resolve_target(
    url: str | None = None,
    token: str | None = None,
    conn_id: str | None = DEFAULT_CONN_ID,
    airflow: str | None = None,
    env: Mapping[str, str] | None = None,
    connection_getter: Callable[[str], Any] | None = None,
) -> MedicTarget | None:
    """URL and token: explicit arguments, else the Airflow connection ``conn_id``
    (host/schema/port, password = token, extra ``{"airflow": "main"}``), else the environment
    (``MEDIC_URL``, ``MEDIC_TOKEN``, ``MEDIC_AIRFLOW_INSTANCE``). None when no URL is known."""
    env = os.environ if env is None else env
    source = "arguments"
    conn = None
    if (url is None or token is None or airflow is None) and conn_id:
        conn = (connection_getter or _get_connection)(conn_id)
    if url is None and conn is not None:
        url = _url_from_connection(conn)
        source = f"connection {conn_id}"
    if token is None and conn is not None:
        token = getattr(conn, "password", None) or None
    if airflow is None and conn is not None:
        extra = getattr(conn, "extra_dejson", None)
        if isinstance(extra, dict) and isinstance(extra.get("airflow"), str):
            airflow = extra["airflow"]
    if url is None and env.get("MEDIC_URL"):
        url = env["MEDIC_URL"]
        source = "environment"
    if token is None:
        token = env.get("MEDIC_TOKEN") or None
    if airflow is None:
        airflow = env.get("MEDIC_AIRFLOW_INSTANCE") or None
    if not url:
        return None
    return MedicTarget(url=url.rstrip("/"), token=token, airflow=airflow, source=source)


def _retryable_status(status: int) -> bool:
    return status >= 500 or status == 429


def send_signal(
    target: MedicTarget,
    payload: Mapping[str, Any],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff_s: float = DEFAULT_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
    opener: Callable[..., Any] | None = None,
) -> SendResult:
    """POSTs the payload; retries transient failures; never raises."""
    result = SendResult(ok=False)
    try:
        data = json.dumps(payload, default=str).encode("utf-8")
    except Exception as error:  # pragma: no cover - payload is built from plain values
        result.error = f"payload not serialisable: {error}"
        return result
    headers = {"content-type": "application/json", "accept": "application/json", "user-agent": "medic-airflow/0.1"}
    if target.token:
        headers["authorization"] = f"Bearer {target.token}"
    open_url = opener or urllib.request.urlopen
    endpoint = target.url + SIGNALS_PATH
    for attempt in range(1, max(1, attempts) + 1):
        result.attempts = attempt
        retry_after: float | None = None
        try:
            request = urllib.request.Request(endpoint, data=data, headers=headers, method="POST")
            with open_url(request, timeout=timeout_s) as response:
                status = response.status
                text = response.read().decode("utf-8", "replace")
            result.status = status
            try:
                result.body = json.loads(text) if text else None
            except ValueError:
                result.body = text
            result.ok = 200 <= status < 300
            result.duplicate = bool(isinstance(result.body, dict) and result.body.get("duplicate"))
            result.error = None if result.ok else f"HTTP {status}"
            return result
        except urllib.error.HTTPError as error:
            status = error.code
            try:
                text = error.read().decode("utf-8", "replace")[:500]
            except Exception:
                text = ""
            result.status = status
            result.error = f"HTTP {status} {text}".strip()
            result.history.append(result.error)
            if not _retryable_status(status):
                return result
            header = error.headers.get("retry-after") if error.headers else None
            try:
                retry_after = float(header) if header else None
            except ValueError:
                retry_after = None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            result.status = None
            result.error = f"{type(reason).__name__}: {reason}"
            result.history.append(result.error)
        except Exception as error:  # anything else: give up, never raise into the task
            result.error = f"{type(error).__name__}: {error}"
            result.history.append(result.error)
            return result
        if attempt < attempts:
            delay = min(MAX_BACKOFF_S, backoff_s * (2 ** (attempt - 1)))
            delay = delay * (0.8 + 0.4 * random.random())
            if retry_after is not None:
                delay = min(MAX_BACKOFF_S, max(delay, retry_after))
            sleep(delay)
    return result
