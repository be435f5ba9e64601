"""Which lake tables a task writes: its outlets (Assets on Airflow 3, Datasets on Airflow 2).

Medic names tables like ``lake.orders`` (``^[A-Za-z0-9_][A-Za-z0-9_.:@-]*$``, at most 256
characters). Each outlet is mapped to one table name, first rule that applies:

1. ``extra={"medic_table": "lake.orders"}`` on the Asset/Dataset: taken as is.
2. The Asset's ``name`` when it is already a valid table name: ``Asset("lake.orders")`` or
   ``Asset(name="lake.orders", uri="s3://bucket/lake/orders/")`` → ``lake.orders``.
3. The URI: a bare valid name is taken as is (``Dataset("lake.orders")`` on Airflow 2);
   a URI with a scheme gives its last two path segments joined by a dot
   (``postgres://db:5432/warehouse/lake/orders`` → ``lake.orders``,
   ``s3://bucket/lake/orders/`` → ``lake.orders``, ``iceberg://catalog/lake/orders`` →
   ``lake.orders``); one segment gives that segment; no path gives the host.
   Characters outside the table-name alphabet become ``_``.

Asset aliases and anything without a name or URI are skipped. Duplicates are dropped, order is
kept. When no outlet maps, the notifier sends no ``tables`` and Medic falls back to its
catalog's mapping of the DAG/task (or ``dag_id.task_id``).
"""

from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import urlsplit

_TABLE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]*$")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.:@-]")
MAX_TABLE_LEN = 256
MAX_TABLES = 100


def is_table_name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TABLE_LEN and bool(_TABLE_RE.match(value))


def _clean(value: str) -> str | None:
    value = _BAD_CHARS.sub("_", value.strip()).lstrip(".:@-")
    value = value[:MAX_TABLE_LEN]
    return value if is_table_name(value) else None


def table_from_uri(uri: str) -> str | None:
    """``scheme://host/a/b/c`` → ``b.c``; a bare name is returned when valid."""
    if not isinstance(uri, str) or not uri.strip():
        return None
    uri = uri.strip()
    if is_table_name(uri):
        return uri
    if "://" not in uri:
        # "schema/table" or "path/to/table": same rule as a URI path.
        segments = [s for s in uri.split("/") if s]
        return _clean(".".join(segments[-2:])) if segments else None
    parts = urlsplit(uri)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 2:
        return _clean(".".join(segments[-2:]))
    if len(segments) == 1:
        return _clean(segments[0])
    return _clean(parts.hostname or parts.netloc) if (parts.hostname or parts.netloc) else None


def table_from_outlet(outlet: Any) -> str | None:
    """One outlet (Asset, Dataset, or a plain string) → a table name, or None."""
    if outlet is None:
        return None
    if isinstance(outlet, str):
        return table_from_uri(outlet)
    kind = type(outlet).__name__
    if "Alias" in kind:
        return None
    extra = getattr(outlet, "extra", None)
    if isinstance(extra, dict) and is_table_name(extra.get("medic_table")):
        return extra["medic_table"]
    name = getattr(outlet, "name", None)
    if is_table_name(name):
        return name
    uri = getattr(outlet, "uri", None)
    if isinstance(uri, str):
        return table_from_uri(uri)
    if isinstance(name, str):
        return table_from_uri(name)
    return None


def tables_from_outlets(outlets: Iterable[Any] | None) -> list[str]:
    seen: list[str] = []
    for outlet in outlets or ():
        try:
            table = table_from_outlet(outlet)
        except Exception:  # an exotic outlet type must never break the callback
            table = None
        if table and table not in seen:
            seen.append(table)
        if len(seen) >= MAX_TABLES:
            break
    return seen
