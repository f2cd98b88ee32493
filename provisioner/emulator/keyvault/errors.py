"""Key Vault errors, in the service's ``KeyVaultError`` shape: ``{"error": {"code", "message", "innererror"}}``.

Codes and texts come from what the service is documented or recorded to answer (the Key Vault
REST error-codes page, the SDKs' troubleshooting guides and recorded test sessions); a text no
public source gives is marked as the emulator's own wording where it is built.
"""

from __future__ import annotations

from typing import Any


class KeyVaultError(Exception):
    """An error response: HTTP status, ``error.code``, message and an optional inner code."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.inner = inner

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            error["innererror"] = {"code": self.inner}
        return {"error": error}


FWLINK = "https://go.microsoft.com/fwlink/?linkid=2125182"


def unauthorized(message: str) -> KeyVaultError:
    return KeyVaultError(401, "Unauthorized", message)


def secret_not_found(name: str, version: str | None = None) -> KeyVaultError:
    what = f"{name}/{version}" if version else name
    return KeyVaultError(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {what} was not found in this key vault. If you recently deleted this "
        "secret you may be able to recover it using the correct recovery command. For help resolving "
        f"this issue, please see {FWLINK}",
    )


def deleted_secret_not_found(name: str) -> KeyVaultError:
    return KeyVaultError(404, "SecretNotFound", f"Deleted Secret not found: {name}")


def deleted_but_recoverable(name: str) -> KeyVaultError:
    return KeyVaultError(
        409,
        "Conflict",
        f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in "
        "this state, the secret can only be recovered or purged.",
        inner="ObjectIsDeletedButRecoverable",
    )


def secret_disabled() -> KeyVaultError:
    return KeyVaultError(
        403, "Forbidden", "Operation get is not allowed on a disabled secret.", inner="SecretDisabled"
    )


def purge_protected() -> KeyVaultError:
    return KeyVaultError(
        403,
        "Forbidden",
        'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault '
        "service will automatically purge it after the retention period has passed.",
    )


def invalid_name(name: str) -> KeyVaultError:
    return KeyVaultError(400, "BadParameter", f"The request URI contains an invalid name: {name}")


def bad_parameter(message: str) -> KeyVaultError:
    """A malformed request (the emulator's own wording: no public source gives these texts)."""
    return KeyVaultError(400, "BadParameter", message)


def not_found_path(path: str) -> KeyVaultError:
    """A path this vault does not serve (keys, certificates, backups: the emulator's own wording)."""
    return KeyVaultError(404, "NotFound", f"The emulated vault does not serve {path}.")
