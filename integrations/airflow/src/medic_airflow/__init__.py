"""Pipeline Medic integration for Apache Airflow (2.6+ and 3.x).

    from medic_airflow import medic_callbacks
    default_args = {**medic_callbacks()}

See README.md beside this package for the details.
"""

from .client import MedicTarget, SendResult, resolve_target, send_signal
from .notifier import MedicNotifier, build_payload, exception_payload, infer_event, medic_callbacks
from .tables import table_from_outlet, table_from_uri, tables_from_outlets

__all__ = [
    "MedicNotifier",
    "MedicTarget",
    "SendResult",
    "build_payload",
    "exception_payload",
    "infer_event",
    "medic_callbacks",
    "resolve_target",
    "send_signal",
    "table_from_outlet",
    "table_from_uri",
    "tables_from_outlets",
]

__version__ = "0.1.0"
