"""The signIn records ``/beta/auditLogs/signIns`` serves (kept in :mod:`provisioner.emulator.sign_in_log`,
which the identity endpoints write to without depending on the Graph layer)."""

from provisioner.emulator.sign_in_log import (
    KIND,
    PROPERTIES,
    SETTINGS_ID,
    SETTINGS_KIND,
    TYPE_NAME,
    configure,
    record,
    settings,
    visible,
)

__all__ = [
    "KIND",
    "PROPERTIES",
    "SETTINGS_ID",
    "SETTINGS_KIND",
    "TYPE_NAME",
    "configure",
    "record",
    "settings",
    "visible",
]
