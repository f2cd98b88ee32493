"""The embedded Entra ID / Microsoft Graph emulator.

Real HTTPS, Graph v1.0 JSON and the OAuth 2.0 v2.0 endpoints, so the tool talks to
it through the unmodified SDKs exactly as to Microsoft. Only tests and the CLI's
``--emulator`` switch import it; heavy imports (uvicorn, starlette) happen when
:func:`start_emulator` is first used.

The emulator imports nothing from the rest of ``provisioner`` except the data-only
package :mod:`provisioner.data` (the permission catalogues): it raises its own
:class:`~provisioner.emulator.errors.EmulatorError`, which embedders translate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provisioner.emulator.errors import EmulatorError

if TYPE_CHECKING:
    from provisioner.emulator.server import RunningEmulator, start_emulator

__all__ = ["EmulatorError", "RunningEmulator", "start_emulator"]


def __getattr__(name: str) -> Any:
    if name in ("RunningEmulator", "start_emulator"):
        from provisioner.emulator.server import RunningEmulator, start_emulator

        return {"RunningEmulator": RunningEmulator, "start_emulator": start_emulator}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
