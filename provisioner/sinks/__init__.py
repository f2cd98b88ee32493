"""Sinks: where connection values go after ``apply``.

One module per sink type (json, dotenv, GitHub Actions outputs, GitHub Actions
secrets, Key Vault), each with
``deliver`` and ``held_key_id``; :mod:`provisioner.sinks.deliver` dispatches
and delivers one app's values to all its sinks. No sink ever puts a secret
value in an error message; only the GitHub sink prints one, as the
``::add-mask::`` command that makes GitHub hide it.
"""

from provisioner.core.layout import default_sink_path
from provisioner.sinks.common import DeliveryReceipt
from provisioner.sinks.deliver import (
    PartialDeliveryError,
    all_sinks,
    default_sink,
    deliver,
    deliver_all,
    describe,
    describe_destination,
    held_key_id,
    held_key_ids,
    preflight,
)

__all__ = [
    "DeliveryReceipt",
    "PartialDeliveryError",
    "all_sinks",
    "default_sink",
    "default_sink_path",
    "deliver",
    "deliver_all",
    "describe",
    "describe_destination",
    "held_key_id",
    "held_key_ids",
    "preflight",
]
