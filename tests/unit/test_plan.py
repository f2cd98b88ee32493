"""Pure diff cases for make_plan: no Graph, no SDK, plain dataclasses."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from state_support import GRAPH, NOW, RESOURCES, TENANT

from provisioner.core.errors import ManifestErrors
from provisioner.engine.planner import make_plan
from provisioner.model.catalog import EXCHANGE_APP_ID, GRAPH_APP_ID
from provisioner.model.desired import ROLE, SCOPE, Desired, build_desired
from provisioner.model.manifest import App
from provisioner.model.tenant import (
    MANAGED_TAG,
    ExistingApp,
    ExistingSecret,
    ExistingSP,
    Grant,
    RoleAssignment,
    TenantState,
)


def make_app(**overrides: object) -> App:
    data: dict[str, object] = {
        "name": "exchange-connector",
        "display_name": "Exchange connector",
        "audience": "multi-tenant",
        "redirect_uris": {"web": ["https://app.example.com/callback"]},
        "permissions": {"Microsoft Graph": {"delegated": ["User.Read", "Mail.Send"]}},
        "admin_consent": True,
        "secrets": [{"name": "integration secret", "expires_in": "180d"}],
    }
    data.update(overrides)
    return App.model_validate(data)


def state_for(apps: dict[str, ExistingApp | None]) -> TenantState:
    keys = {"Microsoft Graph": GRAPH_APP_ID, "Office 365 Exchange Online": EXCHANGE_APP_ID}
    return TenantState(tenant_id=TENANT, resources=dict(RESOURCES), apps=apps, resource_keys=keys)


def desired_for(*apps: App) -> Desired:
    return build_desired(list(apps), state_for({a.name: None for a in apps}))


def applied(app: App, n: int = 1) -> ExistingApp:
    """What the tenant holds after a successful apply of ``app`` (secret minted at NOW)."""
    want = desired_for(app).apps[app.name]
    sp = ExistingSP(
        object_id=f"bbbbbbbb-0000-0000-0000-00000000000{n}", app_id=f"cccccccc-0000-0000-0000-00000000000{n}"
    )
    grants = [
        Grant(
            id=f"grant-{app_id}",
            client_id=sp.object_id,
            resource_id=RESOURCES[app_id].id,
            consent_type="AllPrincipals",
            principal_id=None,
            scopes=scopes,
        )
        for app_id, scopes in want.delegated_grants.items()
    ]
    roles = [
        RoleAssignment(
            id=f"ra-{role}", principal_id=sp.object_id, resource_id=RESOURCES[app_id].id, app_role_id=role
        )
        for app_id, role_ids in want.app_roles.items()
        for role in role_ids
    ]
    return ExistingApp(
        object_id=f"dddddddd-0000-0000-0000-00000000000{n}",
        app_id=sp.app_id,
        unique_name=app.name,
        display_name=want.display_name,
        sign_in_audience=want.sign_in_audience,
        web_redirect_uris=list(want.web_redirect_uris),
        spa_redirect_uris=list(want.spa_redirect_uris),
        public_client_redirect_uris=list(want.public_client_redirect_uris),
        implicit_access_tokens=want.implicit_access_tokens,
        implicit_id_tokens=want.implicit_id_tokens,
        is_fallback_public_client=want.is_fallback_public_client,
        required_resource_access=want.required_resource_access_sets(),
        notes=want.notes,
        tags=list(want.tags),
        requested_access_token_version=want.requested_access_token_version,
        secrets=[
            ExistingSecret(
                key_id=f"key-{s.name}", display_name=s.name, hint="abc", start=NOW, end=NOW + s.lifetime
            )
            for s in want.secrets
        ],
        service_principal=sp,
        delegated_grants=grants,
        role_assignments=roles,
    )


def plan_of(app: App, existing: ExistingApp | None, now: datetime = NOW):
    return make_plan(desired_for(app), state_for({app.name: existing}), now=now)


def kinds(plan) -> list[str]:
    return [a.kind for a in plan.actions]


# ---------------------------------------------------------------- create / no-op


def test_new_app_creates_everything_in_dependency_order() -> None:
    plan = plan_of(make_app(), None)
    assert kinds(plan) == ["create_app", "create_service_principal", "grant_delegated", "mint_secret"]
    assert plan.actions[0].summary == "create application exchange-connector (Exchange connector)"
    assert (
        plan.actions[2].summary
        == "grant Microsoft Graph delegated: Mail.Send, User.Read (admin consent, all users)"
    )
    assert plan.actions[2].details["scopes"] == ["Mail.Send", "User.Read"]
    assert not plan.is_empty


def test_applied_app_plans_nothing() -> None:
    app = make_app(
        permissions={
            "Microsoft Graph": {"delegated": ["User.Read"], "application": ["Mail.Read", "Mail.Send"]},
            "Office 365 Exchange Online": {"delegated": ["EWS.AccessAsUser.All"]},
        }
    )
    plan = plan_of(app, applied(app))
    assert plan.is_empty, [a.summary for a in plan.actions]
    assert plan.to_dict()["changes_pending"] is False


def test_required_resource_access_is_order_insensitive() -> None:
    a = make_app(permissions={"Microsoft Graph": {"delegated": ["User.Read", "Mail.Send", "offline_access"]}})
    b = make_app(permissions={"graph": {"delegated": ["offline_access", "Mail.Send", "User.Read"]}})
    existing = applied(a)
    # Graph may return the entries in any order; the set view must not care.
    ordered = {k: frozenset(reversed(sorted(v))) for k, v in existing.required_resource_access.items()}
    assert plan_of(b, replace(existing, required_resource_access=ordered)).is_empty


def test_redirect_uri_normalisation_is_not_a_change() -> None:
    app = make_app(
        redirect_uris={
            "web": ["https://app.example.com"],
            "public_client": ["http://localhost:9999/Callback"],
        }
    )
    existing = applied(app)
    assert existing.web_redirect_uris == ["https://app.example.com/"]  # how Graph stores it
    assert plan_of(app, existing).is_empty
    # and a tenant that stored the bare form is not a change either
    assert plan_of(app, replace(existing, web_redirect_uris=["https://app.example.com"])).is_empty


def test_redirect_change_summary_lists_added_and_removed() -> None:
    old = make_app(redirect_uris={"web": ["https://b"]})
    new = make_app(redirect_uris={"web": ["https://a"]})
    plan = plan_of(new, applied(old))
    assert kinds(plan) == ["update_app"]
    assert plan.actions[0].summary == "update application: web.redirectUris [+https://a/] [-https://b/]"
    change = plan.actions[0].changes[0]
    assert (change.field, change.before, change.after) == ("web.redirectUris", ["https://b/"], ["https://a/"])


def test_scalar_and_flag_changes() -> None:
    old = make_app()
    new = make_app(display_name="Exchange connector v2", allow_public_client_flows=True, notes="owned by ops")
    plan = plan_of(new, applied(old))
    fields = [c.field for c in plan.actions[0].changes]
    assert fields == ["displayName", "isFallbackPublicClient", "notes"]
    assert "isFallbackPublicClient false -> true" in plan.actions[0].summary


def test_personal_audience_requests_v2_tokens() -> None:
    plan = plan_of(make_app(audience="multi-tenant-and-personal"), None)
    change = {c.field: c.after for c in plan.actions[0].changes}
    assert change["api.requestedAccessTokenVersion"] == 2
    assert change["signInAudience"] == "AzureADandPersonalMicrosoftAccount"


# ---------------------------------------------------------------- consent


def test_grant_update_in_place_when_scopes_added() -> None:
    old = make_app()
    new = make_app(
        permissions={"Microsoft Graph": {"delegated": ["User.Read", "Mail.Send", "Mail.ReadWrite"]}}
    )
    plan = plan_of(new, applied(old))
    assert kinds(plan) == ["update_app", "update_delegated_grant"]
    grant = plan.actions[1]
    assert grant.details["grant_id"] == f"grant-{GRAPH_APP_ID}"
    assert grant.details["added"] == ["Mail.ReadWrite"] and grant.details["removed"] == []
    assert grant.details["scopes"] == ["Mail.ReadWrite", "Mail.Send", "User.Read"]
    assert "[+Microsoft Graph Mail.ReadWrite (delegated)]" in plan.actions[0].summary


def test_grant_created_when_missing_for_existing_app() -> None:
    app = make_app()
    existing = replace(applied(app), delegated_grants=[])
    assert kinds(plan_of(app, existing)) == ["grant_delegated"]


def test_permission_removed_from_manifest_is_revoked() -> None:
    old = make_app(
        permissions={
            "Microsoft Graph": {"delegated": ["User.Read", "Mail.Send"], "application": ["Mail.Read"]},
            "Office 365 Exchange Online": {"delegated": ["EWS.AccessAsUser.All"]},
        }
    )
    new = make_app(permissions={"Microsoft Graph": {"delegated": ["User.Read"]}})
    plan = plan_of(new, applied(old))
    assert kinds(plan) == ["update_app", "update_delegated_grant", "revoke_delegated", "revoke_app_role"]
    assert plan.actions[1].details["removed"] == ["Mail.Send"]
    assert plan.actions[2].summary == "revoke Office 365 Exchange Online delegated: EWS.AccessAsUser.All"
    assert plan.actions[3].summary == "revoke Microsoft Graph application: Mail.Read"
    assert plan.actions[3].details["assignment_ids"] == [f"ra-{GRAPH.roles['Mail.Read']}"]


def test_all_delegated_removed_revokes_grant() -> None:
    old = make_app()
    new = make_app(permissions={})
    assert kinds(plan_of(new, applied(old))) == ["update_app", "revoke_delegated"]


def test_app_roles_assigned_only_with_admin_consent() -> None:
    perms = {"Microsoft Graph": {"application": ["Mail.Send", "Mail.Read"]}}
    with_consent = plan_of(make_app(permissions=perms), None)
    assign = [a for a in with_consent.actions if a.kind == "assign_app_role"]
    assert [a.summary for a in assign] == [
        "assign Microsoft Graph application: Mail.Read, Mail.Send (admin consent)"
    ]
    assert sorted(assign[0].details["app_role_ids"]) == sorted(
        [GRAPH.roles["Mail.Read"], GRAPH.roles["Mail.Send"]]
    )
    without = plan_of(make_app(permissions=perms, admin_consent=False), None)
    assert "assign_app_role" not in kinds(without) and "grant_delegated" not in kinds(without)


def test_without_admin_consent_removed_permissions_are_still_revoked() -> None:
    old = make_app(permissions={"Microsoft Graph": {"delegated": ["User.Read", "Mail.Send"]}})
    existing = applied(old)
    new = make_app(permissions={"Microsoft Graph": {"delegated": ["User.Read"]}}, admin_consent=False)
    plan = plan_of(new, existing)
    assert kinds(plan) == ["update_app", "update_delegated_grant"]
    assert plan.actions[1].details["scopes"] == ["User.Read"]
    # ...but consent for still-declared permissions is left alone
    keep = make_app(admin_consent=False)
    assert plan_of(keep, existing).is_empty


def test_principal_consent_grants_are_not_touched() -> None:
    app = make_app()
    existing = applied(app)
    user_grant = Grant(
        "g-user",
        existing.service_principal.object_id,
        GRAPH.id,
        "Principal",
        "user-1",
        frozenset({"Mail.Read"}),
    )
    assert plan_of(app, replace(existing, delegated_grants=[*existing.delegated_grants, user_grant])).is_empty


# ---------------------------------------------------------------- secrets


def test_secret_minted_when_missing_expired_or_in_rotation_window() -> None:
    app = make_app()
    existing = applied(app)
    assert kinds(plan_of(app, replace(existing, secrets=[]))) == ["mint_secret"]
    expired = [replace(existing.secrets[0], end=NOW - timedelta(days=1))]
    assert kinds(plan_of(app, replace(existing, secrets=expired))) == ["mint_secret"]
    in_window = NOW + timedelta(days=175)  # 5 days left, rotate_before 30d
    plan = plan_of(app, existing, now=in_window)
    assert kinds(plan) == ["mint_secret"] and "within rotate_before 30d" in plan.actions[0].summary
    assert plan_of(app, existing, now=NOW + timedelta(days=100)).is_empty


def test_undeclared_secret_removed_only_from_managed_apps() -> None:
    app = make_app()
    existing = applied(app)
    stray = ExistingSecret("key-stray", "hand made", "xyz", NOW, NOW + timedelta(days=30))
    plan = plan_of(app, replace(existing, secrets=[*existing.secrets, stray]))
    assert kinds(plan) == ["remove_secret"] and plan.actions[0].details["key_id"] == "key-stray"
    unmanaged = replace(
        existing, secrets=[*existing.secrets, stray], tags=[t for t in existing.tags if t != MANAGED_TAG]
    )
    assert kinds(plan_of(app, unmanaged)) == ["update_app"]  # adds the marker; keeps the secret


# ---------------------------------------------------------------- output


def test_to_dict_is_json_stable_and_secret_free() -> None:
    apps = [
        make_app(),
        make_app(
            name="logistics",
            display_name="Logistics",
            admin_consent=True,
            permissions={"Microsoft Graph": {"application": ["Mail.Read", "Mail.Send"]}},
        ),
    ]
    state = state_for({a.name: None for a in apps})
    one = make_plan(build_desired(apps, state), state, now=NOW).to_dict()
    two = make_plan(build_desired(list(reversed(apps)), state), state, now=NOW).to_dict()
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert one["actions"][0]["app"] == "exchange-connector"
    assert one["counts"]["create_app"] == 2
    text = json.dumps(one)
    assert "secretText" not in text and "value" not in json.dumps([a["details"] for a in one["actions"]])


def test_unknown_permission_is_located_error_with_hint() -> None:
    bad = make_app(
        permissions={"Microsoft Graph": {"delegated": ["Mail.Sned"]}, "Nope API": {"delegated": ["x"]}}
    )
    with pytest.raises(ManifestErrors) as info:
        desired_for(bad)
    text = str(info.value)
    assert "'Mail.Sned'" in text and "did you mean 'Mail.Send'" in text
    assert "'Nope API' has no service principal" in text
    assert len(info.value.errors) == 2


def test_required_resource_access_types() -> None:
    app = make_app(
        permissions={"Microsoft Graph": {"delegated": ["User.Read"], "application": ["Mail.Read"]}}
    )
    rra = desired_for(app).apps[app.name].required_resource_access[GRAPH_APP_ID]
    assert rra == ((GRAPH.scopes["User.Read"], SCOPE), (GRAPH.roles["Mail.Read"], ROLE))
