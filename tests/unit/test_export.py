"""Export YAML generation, pure: ExistingApp -> YAML -> loader/validate -> make_plan against the same state.

The round trip (exported manifest planned against the registration it came from
shows no actions) is checked without Graph; the CLI-level version lives in
tests/integration/test_adoption.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from state_support import GRAPH, NOW, RESOURCES, TENANT

from provisioner.engine.export import (
    export_manifest,
    manifest_name,
    manifest_text,
    round_lifetime,
    scalar,
    slug,
)
from provisioner.engine.planner import make_plan
from provisioner.graph.inventory import Inventory
from provisioner.manifest.loader import load_text
from provisioner.manifest.validate import validate_apps
from provisioner.model.catalog import GRAPH_APP_ID
from provisioner.model.desired import build_desired
from provisioner.model.manifest import NAME_PATTERN
from provisioner.model.tenant import (
    MANAGED_TAG,
    ExistingApp,
    ExistingSecret,
    ExistingSP,
    Grant,
    RoleAssignment,
    TenantState,
)

CLIENT_SP = "bbbbbbbb-0000-0000-0000-000000000001"


def legacy_app(**overrides: object) -> ExistingApp:
    """A registration made in the portal: no uniqueName, no ownership tag, consent for everything."""
    app = ExistingApp(
        object_id="dddddddd-0000-0000-0000-000000000001",
        app_id="cccccccc-0000-0000-0000-000000000001",
        unique_name=None,
        display_name="Legacy Portal: prod (EU)",
        sign_in_audience="AzureADMultipleOrgs",
        web_redirect_uris=["https://portal.example.com/signin-oidc"],
        spa_redirect_uris=["https://portal.example.com/"],
        public_client_redirect_uris=["http://localhost/"],
        implicit_id_tokens=True,
        is_fallback_public_client=True,
        required_resource_access={
            GRAPH_APP_ID: frozenset(
                {
                    (GRAPH.scopes["User.Read"], "Scope"),
                    (GRAPH.scopes["Mail.Send"], "Scope"),
                    (GRAPH.roles["User.Read.All"], "Role"),
                }
            )
        },
        notes="owner: team legacy\nsecond line: 'quoted' #not a comment",
        tags=["team:legacy", "yes"],
        secrets=[
            ExistingSecret(
                "eeeeeeee-0000-0000-0000-000000000001",
                "ops",
                "abc",
                NOW - timedelta(days=10),
                NOW + timedelta(days=170),
            )
        ],
        service_principal=ExistingSP(CLIENT_SP, "cccccccc-0000-0000-0000-000000000001"),
        delegated_grants=[
            Grant("g1", CLIENT_SP, GRAPH.id, "AllPrincipals", None, frozenset({"User.Read", "Mail.Send"}))
        ],
        role_assignments=[RoleAssignment("r1", CLIENT_SP, GRAPH.id, GRAPH.roles["User.Read.All"])],
    )
    return replace(app, **overrides)


def round_trip(app: ExistingApp) -> tuple[str, list[str]]:
    """Export, load + validate the YAML, plan it against the same registration: (yaml, plan summaries)."""
    (exported,) = export_manifest(Inventory(TENANT, [app], dict(RESOURCES)), now=NOW)
    text = manifest_text([exported], tenant_id=TENANT, now=NOW)
    loaded, errors = load_text(text, "exported.yaml")
    assert not errors, [str(e) for e in errors]
    problems, _ = validate_apps(loaded)
    assert not problems, [str(e) for e in problems]
    (item,) = loaded
    state = TenantState(
        tenant_id=TENANT,
        resources=dict(RESOURCES),
        apps={item.app.name: app},
        resource_keys={"Microsoft Graph": GRAPH_APP_ID},
    )
    plan = make_plan(build_desired(loaded, state), state, now=NOW)
    return text, [f"{a.kind}: {a.summary}" for a in plan.actions]


def test_adopted_app_round_trips_with_no_changes() -> None:
    text, actions = round_trip(legacy_app())
    assert actions == []
    data = yaml.safe_load(text)["apps"][0]
    assert data["name"] == "legacy-portal-prod-eu"
    assert data["app_id"] == "cccccccc-0000-0000-0000-000000000001"
    assert data["audience"] == "multi-tenant"
    assert data["admin_consent"] is True and "allow_privileged" not in data
    assert data["permissions"] == {
        "Microsoft Graph": {"delegated": ["Mail.Send", "User.Read"], "application": ["User.Read.All"]}
    }
    assert data["tags"] == ["team:legacy", "yes"]  # "yes" stays a string, not a YAML boolean
    assert data["notes"].startswith("owner: team legacy\n")
    assert "secrets" not in data
    assert "# client secrets in Entra" in text and "'ops' keyId eeeeeeee" in text


def test_partial_consent_exports_admin_consent_false_and_still_round_trips() -> None:
    app = legacy_app(role_assignments=[])
    text, actions = round_trip(app)
    assert actions == []
    assert "admin_consent" not in yaml.safe_load(text)["apps"][0]


def test_privileged_consent_gets_allow_privileged() -> None:
    role = GRAPH.roles["Application.ReadWrite.All"]
    app = legacy_app(
        required_resource_access={GRAPH_APP_ID: frozenset({(role, "Role")})},
        delegated_grants=[],
        role_assignments=[RoleAssignment("r1", CLIENT_SP, GRAPH.id, role)],
    )
    text, actions = round_trip(app)
    assert actions == []
    data = yaml.safe_load(text)["apps"][0]
    assert data["admin_consent"] is True and data["allow_privileged"] is True


def test_managed_app_declares_its_live_secrets_so_nothing_is_minted() -> None:
    secrets = [
        ExistingSecret("k1", "default", "abc", NOW - timedelta(days=5), NOW + timedelta(days=175)),
        ExistingSecret("k2", "old", "def", NOW - timedelta(days=400), NOW - timedelta(days=35)),
        ExistingSecret("k3", None, "ghi", NOW - timedelta(days=1), NOW + timedelta(days=30)),
    ]
    app = legacy_app(unique_name="billing-api", tags=[MANAGED_TAG], secrets=secrets)
    text, actions = round_trip(app)
    data = yaml.safe_load(text)["apps"][0]
    assert data["name"] == "billing-api"
    assert data["secrets"] == [{"name": "default", "expires_in": "180d"}]
    # what cannot be declared is said, and plan does exactly that
    assert "'old' has expired: apply removes it" in text and "has no description" in text
    assert sorted(a.split(":")[0] for a in actions) == ["remove_secret", "remove_secret"]


def test_what_cannot_be_expressed_is_a_comment() -> None:
    unknown = "99999999-9999-9999-9999-999999999999"
    app = legacy_app(
        required_resource_access={
            GRAPH_APP_ID: frozenset({(GRAPH.scopes["User.Read"], "Scope"), (unknown, "Scope")}),
            "12345678-1234-1234-1234-123456789012": frozenset({(unknown, "Role")}),
        },
        delegated_grants=[
            Grant("g1", CLIENT_SP, GRAPH.id, "AllPrincipals", None, frozenset({"User.Read", "Files.Read"}))
        ],
        role_assignments=[],
        service_principal=None,
    )
    (exported,) = export_manifest(Inventory(TENANT, [app], dict(RESOURCES)), now=NOW)
    notes = " | ".join(exported.notes)
    assert f"publishes no delegated permission {unknown}" in notes
    assert "12345678-1234-1234-1234-123456789012, which has no service principal" in notes
    assert "no service principal (enterprise application) yet" in notes
    loaded, errors = load_text(manifest_text([exported], tenant_id=TENANT, now=NOW), "x.yaml")
    assert not errors
    assert loaded[0].app.permissions["Microsoft Graph"].delegated == ["User.Read"]
    assert not loaded[0].app.admin_consent  # no SP: nothing is granted


def test_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    a = legacy_app(display_name="Ünïcode App!!")
    assert manifest_name(a, taken) == "n-code-app"  # non-ASCII letters are not name characters
    assert manifest_name(legacy_app(unique_name="Billing-API"), taken) == "billing-api"
    assert manifest_name(legacy_app(unique_name="Billing-API"), taken) == "billing-api-2"
    assert manifest_name(legacy_app(unique_name="has space", display_name="***"), taken) == "app-cccccccc"


@given(st.text(max_size=200))
def test_slug_is_empty_or_a_valid_name(text: str) -> None:
    import re

    value = slug(text)
    assert value == "" or re.match(NAME_PATTERN, value)


@given(st.text(max_size=80))
def test_scalar_round_trips_through_yaml(text: str) -> None:
    assert yaml.safe_load(f"key: {scalar(text)}\n") == {"key": text}


@pytest.mark.parametrize(
    ("days", "expected"),
    [(180, "180d"), (365, "1y"), (730, "2y"), (731, "2y"), (90.4, "90d"), (1, "24h")],
)
def test_round_lifetime(days: float, expected: str) -> None:
    assert round_lifetime(timedelta(days=days)) == expected


def test_short_lived_secret_gets_a_valid_rotate_window() -> None:
    secret = ExistingSecret("k1", "short", "abc", NOW - timedelta(days=1), NOW + timedelta(days=9))
    app = legacy_app(tags=[MANAGED_TAG], secrets=[secret])
    text, _ = round_trip(app)  # validates the Secret model: rotate_before < expires_in
    (entry,) = yaml.safe_load(text)["apps"][0]["secrets"]
    assert entry["expires_in"] == "10d" and entry["rotate_before"] == "80h"
