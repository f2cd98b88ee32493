"""Typed errors and the exit codes they map to.

Every error the CLI reports is a :class:`ProvisionerError`: one line, actionable,
optionally located (file:line:column). Exit codes are part of the contract that
CI pipelines rely on; see README "Exit codes".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code the CLI uses (the one place they are defined)."""

    OK = 0
    ERROR = 1  # any failure: bad input, Graph error, credential problem
    CHANGES = 2  # plan --detailed-exitcode: changes pending
    ROTATED = 3  # rotate --detailed-exitcode: a secret was minted, retired or an orphan removed
    UNHEALTHY = 4  # status: a declared secret has no live value in any sink, or a sink holds a dead one
    STILL_USED = (
        5  # rotate --detailed-exitcode: a replaced secret past its overlap is kept, still signed in with
    )
    USAGE = 64  # reserved for CLI usage errors (typer uses 2 itself for bad flags)
    INTERRUPTED = 130  # Ctrl-C


@dataclass(frozen=True)
class Location:
    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class ProvisionerError(Exception):
    """A failure the user can act on. ``str()`` is the one-line message."""

    exit_code = ExitCode.ERROR

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ManifestError(ProvisionerError):
    """A problem in a manifest file; always located."""


class ManifestErrors(ProvisionerError):
    """All problems found in one validation run (users fix them in one go)."""

    def __init__(self, errors: list[ManifestError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in manifests")

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class CredentialError(ProvisionerError):
    """The credential could not get a token (wrong/expired secret, unknown tenant, ...)."""


class GraphError(ProvisionerError):
    """Graph answered with an error the tool could not recover from."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class SinkError(ProvisionerError):
    """A secret could not be delivered to a sink."""
