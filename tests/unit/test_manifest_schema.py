"""The editor JSON Schema: generated from the model, enriched with durations and permission names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from provisioner.core.durations import DurationError, parse_duration
from provisioner.manifest import json_schema, load
from provisioner.manifest.schema import SCHEMA_DIALECT, SCHEMA_ID

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json_schema()


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_header_and_size(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == SCHEMA_DIALECT and schema["$id"] == SCHEMA_ID
    assert schema["title"] == "provisioner manifest"
    assert schema["additionalProperties"] is False
    text = json.dumps(schema)
    assert len(text) < 100_000, "keep the schema small enough for editors"
    assert json_schema() == schema and json_schema() is not schema


def test_every_ref_resolves(schema: dict[str, Any]) -> None:
    refs = re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema))
    assert refs and all(ref in schema["$defs"] for ref in refs)


def test_permission_names_are_enums_for_bundled_resources(schema: dict[str, Any]) -> None:
    permissions = schema["$defs"]["App"]["properties"]["permissions"]
    for key in ("Microsoft Graph", "graph", "00000003-0000-0000-c000-000000000000"):
        graph = _resolve(schema, permissions["properties"][key])
        delegated = graph["properties"]["delegated"]["items"]["enum"]
        assert "Mail.Send" in delegated and "Mail.Sendd" not in delegated
        assert "Mail.Send" in graph["properties"]["application"]["items"]["enum"]
    exchange = _resolve(schema, permissions["properties"]["Office 365 Exchange Online"])
    assert "EWS.AccessAsUser.All" in exchange["properties"]["delegated"]["items"]["enum"]
    assert "full_access_as_app" in exchange["properties"]["application"]["items"]["enum"]
    # any other resource (by appId) keeps free-form names
    other = _resolve(schema, permissions["additionalProperties"])
    assert other["properties"]["delegated"]["items"] == {"type": "string"}


def test_scenario_permissions_are_in_the_schema(schema: dict[str, Any]) -> None:
    permissions = schema["$defs"]["App"]["properties"]["permissions"]["properties"]
    for item in load([MANIFESTS]):
        for key, grants in item.app.permissions.items():
            node = _resolve(schema, permissions[key])
            for kind in ("delegated", "application"):
                allowed = set(node["properties"][kind]["items"]["enum"])
                assert set(getattr(grants, kind)) <= allowed


@pytest.mark.parametrize("text", ["90d", "12mo", "2y", "6w", "36h", "15min", "3x", "six months", "12", "d"])
def test_duration_pattern_agrees_with_parser(schema: dict[str, Any], text: str) -> None:
    pattern = schema["$defs"]["Secret"]["properties"]["expires_in"]["pattern"]
    try:
        parse_duration(text)
        parsed = True
    except DurationError:
        parsed = False
    assert bool(re.search(pattern, text)) is parsed
