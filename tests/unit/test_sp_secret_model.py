"""Service principal secrets: the manifest model, validation, connection values, the rotation policy on the
principal's secrets, the plan actions, and the policy that judges them (pure; no Graph)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from provisioner.engine.credential_policy import check_credential_policies
from provisioner.engine.planner import Plan
from provisioner.engine.rotation.actions import (
    KIND_OF_ACTION,
    SP_SECRET,
    decide_all,
    executable,
    revise_plan,
    secret_plan,
)
from provisioner.manifest import validate_paths
from provisioner.model.connections import (
    SERVICE_PRINCIPAL,
    MintedSecret,
    connection_values,
    masked,
    merge_previous,
)
from provisioner.model.credential_policy import limits_for
from provisioner.model.desired import Desired, DesiredApp, build_desired
from provisioner.model.manifest import App, Secret
from provisioner.model.tenant import MANAGED_TAG, ExistingApp, ExistingSecret, ExistingSP, TenantState
from provisioner.sinks.holdings import AppHoldings, SinkHolding, json_key_ids

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SPEC = Secret(name="p", expires_in="90d", rotate_before="30d", overlap="7d")
SP_ID = "sp-object"


def sec(key: str, start_days_ago: float, name: str = "p", lifetime_days: float = 90) -> ExistingSecret:
    start = NOW - start_days_ago * DAY
    return ExistingSecret(key, name, key[:3], start, start + lifetime_days * DAY)


def have(*sp_secrets: ExistingSecret, app_secrets: tuple[ExistingSecret, ...] = ()) -> ExistingApp:
    return ExistingApp(
        object_id="app-object",
        app_id="appid",
        unique_name="app",
        display_name="App",
        tags=[MANAGED_TAG],
        secrets=list(app_secrets),
        service_principal=ExistingSP(SP_ID, "appid", secrets=list(sp_secrets)),
    )


def desired(*, app: tuple[Secret, ...] = (), sp: tuple[Secret, ...] = (SPEC,)) -> Desired:
    return Desired(
        apps={
            "app": DesiredApp(
                name="app", display_name="App", sign_in_audience="AzureADMyOrg", secrets=app, sp_secrets=sp
            )
        },
        resources={},
    )


def holdings(*key_ids: str, journal: set[str] | None = None) -> dict[str, AppHoldings]:
    delivered = frozenset(journal) if journal is not None else None
    return {"app": AppHoldings("app", (SinkHolding("json file x", frozenset(key_ids)),), delivered=delivered)}


def state(existing: ExistingApp | None) -> TenantState:
    return TenantState(tenant_id="t", resources={}, apps={"app": existing})


# ------------------------------------------------------------------------------------------ model


def test_service_principal_secrets_take_the_secret_fields_and_unique_names() -> None:
    app = App.model_validate(
        {
            "name": "a",
            "display_name": "A",
            "service_principal": {"secrets": [{"name": "p", "expires_in": "max", "overlap": "3d"}]},
        }
    )
    (secret,) = app.sp_secrets
    assert secret.expires_in == "max" and secret.overlap_period == 3 * DAY and app.secrets == []
    assert App.model_validate({"name": "b", "display_name": "B"}).sp_secrets == []
    with pytest.raises(ValidationError, match="duplicate secret name 'p'"):
        App.model_validate(
            {
                "name": "a",
                "display_name": "A",
                "service_principal": {"secrets": [{"name": "p"}, {"name": "p"}]},
            }
        )
    with pytest.raises(ValidationError, match="certificates"):  # only secrets, for now: a typo is an error
        App.model_validate({"name": "a", "display_name": "A", "service_principal": {"certificates": []}})


def test_validate_locates_service_principal_secret_problems(tmp_path: Path) -> None:
    apps = [
        {
            "name": "a",
            "display_name": "A",
            "service_principal": {
                "secrets": [
                    {"name": "short", "expires_in": "20d", "rotate_before": "30d"},
                    {"name": "long", "expires_in": "3y"},
                ]
            },
        },
        {
            "name": "b",
            "display_name": "B",
            "service_principal": {"secrets": [{"name": "x", "expires_in": "soon"}]},
        },
    ]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "apps": apps}, sort_keys=False))
    result = validate_paths([str(path)], base_dir=tmp_path)
    text = "\n".join(str(e) for e in result.errors)
    assert "rotate_before 30d must be shorter than expires_in 20d" in text and "above 2 years" in text
    lines = sorted(e.location.line for e in result.errors if e.location)
    assert len(lines) == 3 and all(line > 1 for line in lines), text
    assert "m.yaml:" in text and "expires_in" in text


# ------------------------------------------------------------------------------ connection values


def test_principal_secrets_have_keys_of_their_own_masked_everywhere() -> None:
    app = App(name="a", display_name="A")
    ends = NOW + 90 * DAY
    minted = [
        MintedSecret("s", "k-app", "app-secret-value-123456", "app", ends),
        MintedSecret(
            "p", "k-sp", "sp-secret-value-1234567", "sp-", ends, owner=SERVICE_PRINCIPAL, owner_id=SP_ID
        ),
    ]
    values = connection_values(app, tenant_id="t", client_id="c", minted=minted)
    assert (values["client_secret"], values["client_secret_id"]) == ("app-secret-value-123456", "k-app")
    assert (values["sp_client_secret"], values["sp_client_secret_id"]) == ("sp-secret-value-1234567", "k-sp")
    assert [e["key_id"] for e in values["secrets"]] == ["k-app"]
    assert [e["key_id"] for e in values["sp_secrets"]] == ["k-sp"]
    assert json_key_ids(values) == {"k-app", "k-sp"}
    shown = str(masked(values))
    assert "sp-secret-value-1234567" not in shown and "app-secret-value-123456" not in shown

    # a run that mints nothing carries the principal's secret forward while Entra lists it
    again = connection_values(app, tenant_id="t", client_id="c", minted=[])
    assert (
        merge_previous(again, values, live_key_ids={"k-app", "k-sp"})["sp_client_secret"]
        == values["sp_client_secret"]
    )
    dropped = merge_previous(again, values, live_key_ids={"k-app"})
    assert "sp_client_secret" not in dropped and "sp_secrets" not in dropped and "client_secret" in dropped


# ------------------------------------------------------------------------------ rotation decisions


def test_principal_secrets_follow_the_secret_lifecycle_apart_from_the_apps() -> None:
    # the app's secret of the same name is current and far from expiry; the principal's is due
    existing = have(sec("old", 61), sec("orph", 0.01), app_secrets=(sec("app1", 1, name="p"),))
    decisions = decide_all(
        desired(app=(SPEC,)), state(existing), holdings("old", "app1", journal={"old", "app1"}), NOW
    )
    app_d, sp_d = decisions["app"]
    assert (app_d.kind, app_d.mint) == ("secret", False)
    assert sp_d.kind == SP_SECRET and sp_d.mint and sp_d.current is not None and sp_d.current.key_id == "old"
    assert [r.secret.key_id for r in sp_d.removals] == ["orph"]  # minted, never delivered: an orphan
    plan = secret_plan("t", state(existing), decisions)
    assert [a.kind for a in plan.actions] == ["mint_sp_secret", "replace_orphan_sp_secret"]
    mint, orphan = plan.actions
    assert "mint service principal secret 'p'" in mint.summary
    assert orphan.details["object_id"] == SP_ID and "orphan service principal secret" in orphan.summary
    assert [a.kind for a in executable(plan).actions] == ["mint_sp_secret"]
    assert {KIND_OF_ACTION[a.kind] for a in plan.actions} == {SP_SECRET}

    # after the overlap, the replaced principal secret retires (before the next mint)
    later = have(sec("old", 70), sec("new", 8))
    (d,) = decide_all(desired(), state(later), holdings("new", journal={"old", "new"}), NOW)["app"]
    assert not d.mint and [(r.kind, r.secret.key_id) for r in d.removals] == [("retire", "old")]
    (retire,) = secret_plan("t", state(later), {"app": [d]}).actions
    assert retire.kind == "retire_sp_secret" and retire.details["object_id"] == SP_ID


def test_a_new_app_or_principal_gets_its_principal_secret_minted() -> None:
    (d,) = decide_all(desired(), state(None), {}, NOW)["app"]
    assert d.kind == SP_SECRET and d.mint_reason == "missing"
    no_sp = ExistingApp("app-object", "appid", "app", "App", tags=[MANAGED_TAG])
    (d,) = decide_all(desired(), state(no_sp), holdings(), NOW)["app"]
    assert d.mint_reason == "missing"
    plan = revise_plan(Plan("t", []), desired(), state(no_sp), {"app": [d]})
    assert [a.kind for a in plan.actions] == ["mint_sp_secret"]


# ------------------------------------------------------------------------------ credential policies

DEFAULT = {
    "id": "00000000-0000-0000-0000-000000000000",
    "displayName": "Default app management tenant policy",
    "isEnabled": True,
    "applicationRestrictions": {"passwordCredentials": [{"restrictionType": "passwordAddition"}]},
    "servicePrincipalRestrictions": {
        "passwordCredentials": [{"restrictionType": "passwordLifetime", "maxLifetime": "P60D"}]
    },
}
CAP30 = {
    "id": "cap30",
    "displayName": "30-day principal secrets",
    "isEnabled": True,
    "restrictions": {"passwordCredentials": [{"restrictionType": "passwordLifetime", "maxLifetime": "P30D"}]},
}


def test_principals_are_judged_by_their_policy_else_service_principal_restrictions() -> None:
    app_limits = limits_for([], DEFAULT, NOW)
    assert app_limits is not None and app_limits.passwords_blocked
    sp_limits = limits_for([], DEFAULT, None, principal=True)
    assert sp_limits is not None and not sp_limits.passwords_blocked and sp_limits.password_max == 60 * DAY
    applied = limits_for([CAP30], DEFAULT, None, principal=True)
    assert applied is not None and applied.policy_id == "cap30" and applied.password_max == 30 * DAY
    assert limits_for([], {**DEFAULT, "servicePrincipalRestrictions": {}}, None, principal=True) is None


def test_plan_refuses_a_principal_secret_above_its_policy_in_one_line() -> None:
    tenant = state(have())
    tenant.sp_credential_limits["app"] = limits_for([CAP30], DEFAULT, None, principal=True)
    tenant.credential_limits["app"] = limits_for([], DEFAULT, NOW)  # blocks app secrets, not the principal's
    want = desired()
    plan = secret_plan("t", tenant, decide_all(want, tenant, holdings(), NOW))
    check_credential_policies(plan, want, tenant)
    (line,) = plan.problems["app"]
    assert "service principal secret 'p'" in line and "'30-day principal secrets' (cap30)" in line
    assert "passwordLifetime maximum P30D" in line and "expires_in: 30d" in line

    # expires_in: max resolves to the principal's cap, which then passes
    tenant.apps["app"] = None
    limited = build_desired(
        [
            App(
                name="app",
                display_name="App",
                service_principal={"secrets": [{"name": "p", "expires_in": "max"}]},
            )
        ],
        tenant,
    )
    assert limited.apps["app"].sp_secrets[0].expires_in == "30d"
