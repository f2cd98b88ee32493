"""The bundled permission catalogue: lookups, flags, suggestions, and staying light to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner import data
from provisioner.catalog import (
    EXCHANGE_APP_ID,
    GRAPH_APP_ID,
    is_privileged,
    resolve_resource,
    resource_names,
    resources,
    suggest,
)

CATALOG_DIR = Path(data.__file__).resolve().parent


@pytest.mark.parametrize(
    ("key", "app_id"),
    [
        ("Microsoft Graph", GRAPH_APP_ID),
        ("microsoft graph", GRAPH_APP_ID),
        ("  MICROSOFT GRAPH ", GRAPH_APP_ID),
        (GRAPH_APP_ID, GRAPH_APP_ID),
        (GRAPH_APP_ID.upper(), GRAPH_APP_ID),
        ("graph", GRAPH_APP_ID),
        ("microsoft-graph", GRAPH_APP_ID),
        ("Office 365 Exchange Online", EXCHANGE_APP_ID),
        (EXCHANGE_APP_ID, EXCHANGE_APP_ID),
        ("exchange", EXCHANGE_APP_ID),
        ("Exchange-Online", EXCHANGE_APP_ID),
    ],
)
def test_resolve_resource(key: str, app_id: str) -> None:
    resource = resolve_resource(key)
    assert resource is not None and resource.app_id == app_id


@pytest.mark.parametrize("key", ["", "Microsoft Grpah", "SharePoint", "00000000-0000-0000-0000-000000000000"])
def test_unknown_resources(key: str) -> None:
    assert resolve_resource(key) is None


def test_counts_match_the_json_files() -> None:
    for name in ("graph-permissions.json", "exchange-permissions.json"):
        doc = json.loads((CATALOG_DIR / name).read_text(encoding="utf-8"))
        resource = resolve_resource(doc["appId"])
        assert resource is not None and resource.display_name == doc["displayName"]
        scopes = {s["value"] for s in doc["oauth2PermissionScopes"]}
        roles = {r["value"] for r in doc["appRoles"]}
        assert set(resource.scopes) == scopes
        assert set(resource.roles) == roles
        assert len(resource.scopes) + len(resource.roles) + len(resource.shadowed) == len(
            doc["oauth2PermissionScopes"]
        ) + len(doc["appRoles"])
    graph = resolve_resource("graph")
    assert graph is not None and (len(graph.scopes), len(graph.roles)) == (807, 716)


def test_permission_fields() -> None:
    graph = resolve_resource("graph")
    assert graph is not None
    mail_read = graph.scopes["Mail.Read"]
    assert mail_read.id == "570282fd-fa5c-430d-a7fd-fc8dc98a9dca"
    assert mail_read.kind == "delegated"
    assert mail_read.admin_consent_required is False  # type "User"
    assert mail_read.display_name and mail_read.description
    assert graph.scopes["Directory.ReadWrite.All"].admin_consent_required is True  # type "Admin"
    role = graph.roles["Mail.Read"]
    assert role.kind == "application" and role.admin_consent_required is True
    assert role.id == "810c84a8-4a9e-49e6-bf7d-12d183f40d01"
    assert graph.get("Mail.Send", "application") is graph.roles["Mail.Send"]
    assert graph.permissions("delegated") is graph.scopes


def test_exchange_ids_from_the_ews_docs() -> None:
    exchange = resolve_resource("exchange")
    assert exchange is not None
    assert exchange.scopes["EWS.AccessAsUser.All"].id == "3b5f3d61-589b-4a3c-a359-5dd4b5ee5bd5"
    assert exchange.roles["full_access_as_app"].id == "dc890d15-9560-4a4c-9b7f-a736ec74ec40"
    # Exchange publishes no consent type: unknown counts as "not known to need admin consent".
    assert exchange.scopes["EWS.AccessAsUser.All"].admin_consent_required is False


def test_duplicate_values_first_wins() -> None:
    exchange = resolve_resource("exchange")
    assert exchange is not None
    assert exchange.scopes["User.ReadBasic.All"].id == "6222dbab-a24c-4210-9d91-2f47cf565614"
    assert [p.id for p in exchange.shadowed] == ["9b005f11-86f0-45f7-8c27-4fff5d849916"]


@pytest.mark.parametrize(
    ("resource", "kind", "value", "expected"),
    [
        ("graph", "application", "Application.ReadWrite.All", True),  # level 4
        ("graph", "delegated", "Directory.ReadWrite.All", True),  # level 4
        ("graph", "delegated", "AppRoleAssignment.ReadWrite.All", True),  # level 3, privileged by name
        ("graph", "delegated", "Application.ReadWrite.All", True),  # level 3, privileged by name
        ("graph", "delegated", "Mail.Read", False),
        ("graph", "application", "Mail.Send", False),
        ("exchange", "application", "full_access_as_app", True),  # no published level, privileged by name
        ("exchange", "delegated", "EWS.AccessAsUser.All", False),
    ],
)
def test_is_privileged(resource: str, kind: str, value: str, expected: bool) -> None:
    found = resolve_resource(resource)
    assert found is not None
    permission = found.get(value, kind)  # type: ignore[arg-type]
    assert permission is not None
    assert is_privileged(permission) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Mail.Sendd", "Mail.Send"),
        ("mail.read", "Mail.Read"),
        ("Mail.ReadWirte", "Mail.ReadWrite"),
        ("Calendar.ReadWrite", "Calendars.ReadWrite"),
        ("Mail.Send", None),  # exact: nothing to suggest
        ("Completely.Different.Thing", None),
        ("", None),
    ],
)
def test_suggest_permissions(name: str, expected: str | None) -> None:
    graph = resolve_resource("graph")
    assert graph is not None
    assert suggest(name, graph.scopes) == expected


def test_suggest_keys_and_resources() -> None:
    assert suggest("redirect_uri", ["redirect_uris", "name"]) == "redirect_uris"
    assert suggest("Microsoft Grpah", resource_names()) == "Microsoft Graph"
    assert suggest("anything", []) is None


def test_loaded_once() -> None:
    assert resources() is resources()
    assert resolve_resource("graph") is resolve_resource(GRAPH_APP_ID)


def test_validate_path_imports_no_sdk_and_starts_fast(tmp_path: Path) -> None:
    """The offline path must never pull in msgraph / azure / kiota (slow imports, and no network)."""
    manifests = Path(__file__).resolve().parents[2] / "manifests"
    code = (
        "import sys\n"
        "from provisioner.manifest import validate_paths\n"
        f"r = validate_paths([{str(manifests)!r}])\n"
        "assert r.ok, r.errors\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('msgraph', 'azure', 'kiota_abstractions',"
        " 'httpx', 'typer', 'rich'))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
