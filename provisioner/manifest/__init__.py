"""Manifests: the YAML a user writes, loaded with source locations and validated offline.

Entry points:

* :func:`validate_paths` - load + every offline check -> :class:`ValidationResult`
  (what ``provisioner validate`` runs, and what ``plan``/``apply`` should run first);
* :func:`load_paths` / :func:`load` - parsing and model validation only;
* :func:`json_schema` - the editor schema (imported lazily: it reads the catalogue).
"""

from __future__ import annotations

from typing import Any

from provisioner.manifest.loader import LoadedApp, SourceMap, format_path, load, load_paths, load_text
from provisioner.manifest.validate import ValidationResult, validate_apps, validate_paths
from provisioner.model.manifest import App, Audience, ManifestFile


def json_schema() -> dict[str, Any]:
    from provisioner.manifest.schema import json_schema as build

    return build()


__all__ = [
    "App",
    "Audience",
    "LoadedApp",
    "ManifestFile",
    "SourceMap",
    "ValidationResult",
    "format_path",
    "json_schema",
    "load",
    "load_paths",
    "load_text",
    "validate_apps",
    "validate_paths",
]
