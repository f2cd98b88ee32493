"""The emulator's own error base: it depends on nothing else of ``provisioner`` but its data.

The emulator is a product of its own (tests and ``--emulator`` embed it, ``provisioner
emulator serve`` runs it), so it raises its own exception type; whoever embeds it turns
that into its own error reporting (the CLI into one ``error:`` line and exit code 1).
"""

from __future__ import annotations


class EmulatorError(Exception):
    """The emulator could not start (port in use, unreadable state file, refused bind address, ...).

    ``str()`` is one line a person can act on; it never contains a secret.
    """
