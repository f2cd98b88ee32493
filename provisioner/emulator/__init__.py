"""The embedded Entra ID / Microsoft Graph emulator.

Real HTTPS, Graph v1.0 JSON and the OAuth 2.0 v2.0 endpoints, so the tool talks to
it through the unmodified SDKs exactly as to Microsoft. Only tests and the CLI's
``--emulator`` switch import it; heavy imports (uvicorn, starlette) happen when
:func:`start_emulator` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provisioner.emulator.server import RunningEmulator, start_emulator

__all__ = ["RunningEmulator", "start_emulator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from provisioner.emulator import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
