"""Manifests in, validated apps out: the first step of every operation, offline."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from provisioner.core.errors import ManifestErrors, ProvisionerError
from provisioner.manifest import validate_paths
from provisioner.manifest.loader import LoadedApp


def load_manifests(paths: Sequence[str]) -> tuple[list[LoadedApp], list[Any]]:
    """Validate offline first: no credential is touched while a manifest is wrong."""
    result = validate_paths(list(paths))
    if result.errors:
        raise ManifestErrors(list(result.errors))
    if not result.apps:
        raise ProvisionerError(f"no apps declared in {', '.join(paths)}")
    return list(result.apps), list(result.warnings)


def select_apps(loaded: list[LoadedApp], names: Collection[str]) -> list[LoadedApp]:
    """The declared apps named by ``--app`` (every app when none is named); an unknown name is an error."""
    if not names:
        return loaded
    known = {item.app.name for item in loaded}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ProvisionerError(
            f"--app {unknown[0]!r} is not declared in the manifests (declared: {', '.join(sorted(known))})"
        )
    return [item for item in loaded if item.app.name in names]
