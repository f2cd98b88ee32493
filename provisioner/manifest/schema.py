"""JSON Schema of the manifest, for editors (``# yaml-language-server: $schema=...``) and CI linters.

Generated from the pydantic model so it cannot drift, then enriched:

* durations get their ``pattern`` (the same one :func:`provisioner.core.durations.parse_duration` uses);
* permission lists of the two bundled resources get the **real permission names as
  ``enum``**, so editors complete ``Mail.Send`` and underline ``Mail.Sendd``.

Why full enums despite ~1,600 names: each list is stored once under ``$defs`` and
referenced by every spelling of its resource (display name, appId, aliases), so the
schema stays around 60 KB - far below schemas editors handle daily (Kubernetes,
GitHub workflows) - and completion lists are filtered as the user types. Examples
instead of enums would accept exactly the typos this tool exists to catch. Resources
outside the catalogue (keyed by appId) keep free-form strings: their names are only
known to the tenant. Case variants of display names (accepted by ``validate``) also
fall back to free-form strings rather than being rejected.
"""

from __future__ import annotations

import copy
from typing import Any

from provisioner.core import durations
from provisioner.model.catalog import ALIASES, Resource, resources
from provisioner.model.manifest import ManifestFile

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:provisioner:manifest:v1"
_DURATION_FIELDS = ("expires_in", "rotate_before", "overlap")


def _def_name(resource: Resource) -> str:
    return "".join(word for word in resource.display_name.title().split() if word.isalnum()) + "Permissions"


def _resource_def(resource: Resource) -> dict[str, Any]:
    def names(values: list[str], kind: str) -> dict[str, Any]:
        return {
            "type": "array",
            "description": f"{kind} permission names of {resource.display_name}.",
            "items": {"type": "string", "enum": sorted(values, key=str.lower)},
            "uniqueItems": True,
        }

    return {
        "type": "object",
        "title": f"{resource.display_name} permissions",
        "additionalProperties": False,
        "properties": {
            "delegated": names(list(resource.scopes), "Delegated"),
            "application": names(list(resource.roles), "Application"),
        },
    }


def json_schema() -> dict[str, Any]:
    """The manifest schema as a JSON-ready dict (a fresh copy on every call)."""
    schema = copy.deepcopy(ManifestFile.model_json_schema())
    defs = schema["$defs"]

    for name in _DURATION_FIELDS:
        defs["Secret"]["properties"][name]["pattern"] = durations._PATTERN.pattern
    # expires_in also takes "max" (the longest the tenant's credential policy allows)
    defs["Secret"]["properties"]["expires_in"]["pattern"] = f"^(max|{durations._PATTERN.pattern[1:-1]})$"

    for kind in ("delegated", "application"):
        defs["ResourcePermissions"]["properties"][kind]["uniqueItems"] = True

    permission_keys: dict[str, Any] = {}
    for resource in resources():
        def_name = _def_name(resource)
        defs[def_name] = _resource_def(resource)
        ref = {"$ref": f"#/$defs/{def_name}"}
        permission_keys[resource.display_name] = ref
        permission_keys[resource.app_id] = ref
        for alias, app_id in ALIASES.items():
            if app_id == resource.app_id:
                permission_keys[alias] = ref
    permissions = defs["App"]["properties"]["permissions"]
    permissions["properties"] = permission_keys
    permissions["description"] = (
        "Keyed by resource: 'Microsoft Graph', 'Office 365 Exchange Online', an alias "
        f"({', '.join(ALIASES)}) or any resource's appId."
    )

    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "provisioner manifest",
        "description": "Microsoft Entra ID app registrations managed by provisioner (version 1).",
        **{key: value for key, value in schema.items() if key != "title"},
    }


__all__ = ["SCHEMA_DIALECT", "SCHEMA_ID", "json_schema"]
