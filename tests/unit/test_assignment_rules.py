"""Issue 17, user and group assignment: the planner's pure diff and the offline validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from state_support import RESOURCES, TENANT

from provisioner.core.errors import ManifestErrors
from provisioner.engine.planner import make_plan
from provisioner.manifest import validate_paths
from provisioner.model.catalog import GRAPH_APP_ID
from provisioner.model.desired import build_desired
from provisioner.model.manifest import App
from provisioner.model.tenant import (
    DEFAULT_ACCESS_ROLE,
    MANAGED_TAG,
    ExistingApp,
    ExistingSP,
    Principal,
    PrincipalAssignment,
    TenantState,
)

ALICE = Principal("a1111111-0000-0000-0000-000000000001", "User", "alice@contoso.example")
BOB = Principal("b2222222-0000-0000-0000-000000000002", "User", "bob@contoso.example")
OPS = Principal("c3333333-0000-0000-0000-000000000003", "Group", "Ops")
SP_ID = "dddddddd-0000-0000-0000-000000000001"


def make_app(**fields: object) -> App:
    return App.model_validate({"name": "portal", "display_name": "Portal", **fields})


def state(existing: ExistingApp | None, *extra: Principal) -> TenantState:
    principals: dict[tuple[str, str], list[Principal]] = {}
    for p in (ALICE, BOB, OPS, *extra):
        for key in (p.id, p.name.lower()):
            principals.setdefault((p.kind, key), []).append(p)
    return TenantState(
        tenant_id=TENANT,
        resources=dict(RESOURCES),
        apps={"portal": existing},
        resource_keys={"Microsoft Graph": GRAPH_APP_ID},
        principals=principals,
    )


def existing(required: bool | None, *held: tuple[str, Principal]) -> ExistingApp:
    return ExistingApp(
        object_id="eeeeeeee-0000-0000-0000-000000000001",
        app_id="ffffffff-0000-0000-0000-000000000001",
        unique_name="portal",
        display_name="Portal",
        sign_in_audience="AzureADMyOrg",
        tags=[MANAGED_TAG],
        service_principal=ExistingSP(SP_ID, "ffffffff-0000-0000-0000-000000000001", required),
        principal_assignments=[
            PrincipalAssignment(aid, p.id, p.kind, p.name, DEFAULT_ACCESS_ROLE) for aid, p in held
        ],
    )


def plan_for(app: App, have: ExistingApp | None, *extra: Principal) -> list[tuple[str, dict]]:
    tenant = state(have, *extra)
    return [(a.kind, a.details) for a in make_plan(build_desired([app], tenant), tenant).actions]


def test_new_app_gets_its_service_principal_requiring_assignment_and_each_principal_once() -> None:
    app = make_app(
        assignment_required=True,
        assigned_users=["alice@contoso.example", ALICE.id.upper()],  # one person, named twice
        assigned_groups=["ops"],
    )
    actions = plan_for(app, None)
    kinds = [k for k, _ in actions]
    assert kinds == ["create_app", "create_service_principal", "assign_principal", "assign_principal"]
    assert actions[1][1]["assignment_required"] is True
    assert [(d["principal_id"], d["app_role_id"]) for k, d in actions if k == "assign_principal"] == [
        (ALICE.id, DEFAULT_ACCESS_ROLE),
        (OPS.id, DEFAULT_ACCESS_ROLE),
    ]


def test_converged_app_plans_nothing_and_drift_is_repaired() -> None:
    app = make_app(assignment_required=True, assigned_users=[ALICE.name], assigned_groups=[OPS.name])
    assert plan_for(app, existing(True, ("x1", ALICE), ("x2", OPS))) == []
    # out of band: requirement switched off, Alice's assignment removed, Bob added, Ops assigned twice
    drifted = existing(False, ("x2", OPS), ("x3", BOB), ("x4", OPS))
    actions = plan_for(app, drifted)
    assert [k for k, _ in actions] == [  # grants before removals
        "update_service_principal",
        "assign_principal",
        "remove_assignment",
        "remove_assignment",
    ]
    assert actions[0][1] == {"sp_id": SP_ID, "assignment_required": True}
    assert {d["assignment_id"] for k, d in actions if k == "remove_assignment"} == {"x3", "x4"}
    plan = make_plan(build_desired([app], state(drifted)), state(drifted))
    assert plan.removes_access


def test_left_out_lists_leave_assignments_alone_and_empty_lists_remove_them() -> None:
    have = existing(True, ("x1", ALICE), ("x2", OPS))
    assert plan_for(make_app(), have) == []
    actions = plan_for(make_app(assigned_users=[]), have)  # groups not managed: Ops stays
    assert actions == [
        (
            "remove_assignment",
            {"assignment_id": "x1", "principal_id": ALICE.id, "principal_type": "User", "name": ALICE.name},
        )
    ]
    assert not make_plan(build_desired([make_app()], state(have)), state(have)).removes_access


def test_unknown_and_ambiguous_principals_stop_the_plan_with_every_entry_named() -> None:
    twin = Principal("c4444444-0000-0000-0000-000000000004", "Group", "Ops")
    app = make_app(assigned_users=["carol@contoso.example"], assigned_groups=["Ops"])
    with pytest.raises(ManifestErrors) as caught:
        build_desired([app], state(None, twin))
    text = str(caught.value)
    assert "user 'carol@contoso.example' does not exist in this tenant" in text
    assert "2 groups are named 'Ops'; name the group by its object ID" in text


def _validate(tmp_path: Path, **fields: object) -> tuple[list[str], list[str]]:
    body = {"name": "portal", "display_name": "Portal", **fields}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "apps": [body]}, sort_keys=False), encoding="utf-8")
    result = validate_paths([str(path)])
    return [str(e) for e in result.errors], [str(w) for w in result.warnings]


def test_validate_locates_bad_and_duplicate_entries(tmp_path: Path) -> None:
    errors, _ = _validate(
        tmp_path,
        assigned_users=["alice@contoso.example", "not a upn", "ALICE@contoso.example", ALICE.id],
        assigned_groups=["Ops", " Ops"],
    )
    joined = "\n".join(errors)
    assert len(errors) == 3, joined
    assert "m.yaml:" in joined  # file:line
    assert "user 'not a upn' is neither a user principal name" in joined
    assert "'ALICE@contoso.example' is listed twice (first as entry 0)" in joined
    assert "' Ops' is empty or has leading or trailing spaces" in joined


def test_validate_warns_when_nobody_could_sign_in(tmp_path: Path) -> None:
    errors, warnings = _validate(tmp_path, assignment_required=True, assigned_users=[], assigned_groups=[])
    assert errors == [] and any("nobody can sign in" in w for w in warnings)


def test_least_privilege_names_what_assignment_needs() -> None:
    from provisioner.graph import least_privilege as lp

    app = make_app(assigned_users=["alice@contoso.example"], assigned_groups=["Ops"])
    assert lp.minimal_set(lp.needs_for_apps([app])) == [
        "Application.ReadWrite.OwnedBy",
        "AppRoleAssignment.ReadWrite.All",
        "User.Read.All",
        "GroupMember.Read.All",
    ]
    assert lp.ASSIGN_PRINCIPALS not in lp.needs_for_apps([make_app()])
    assert lp.need_for_request("GET", "/groups?$filter=x") is lp.READ_GROUPS
    assert lp.need_for_request("GET", "/users") is lp.READ_USERS
    # owners: adding one needs Application.ReadWrite.All (OwnedBy cannot add another owner), and the users
    assert lp.minimal_set(lp.needs_for_apps([make_app(owners=[ALICE.name])])) == [
        "Application.ReadWrite.All",
        "User.Read.All",
    ]
    assert lp.minimal_set(lp.needs_for_apps([make_app(owners=[])])) == ["Application.ReadWrite.All"]
    assert lp.need_for_request("DELETE", "/applications/x/owners/y/$ref") is lp.ADD_OWNER


def test_owners_are_users_managed_exactly_and_service_principal_owners_stay() -> None:
    tool = Principal("99999999-0000-0000-0000-000000000009", "ServicePrincipal", "provisioner")
    have = existing(None)
    have.owners = [tool, BOB]
    # left out: owners alone
    assert plan_for(make_app(), have) == []
    # a new app gets its owners, each once
    new = plan_for(make_app(owners=[ALICE.name, ALICE.id.upper()]), None)
    assert [(k, d.get("owner_id")) for k, d in new if k == "add_owner"] == [("add_owner", ALICE.id)]
    # listed: Alice added, Bob removed (after the addition), the tool's own identity never touched
    app = make_app(owners=[ALICE.name])
    actions = plan_for(app, have)
    assert actions == [
        ("add_owner", {"owner_id": ALICE.id, "name": ALICE.name}),
        ("remove_owner", {"owner_id": BOB.id, "name": BOB.name}),
    ]
    assert make_plan(build_desired([app], state(have)), state(have)).removes_access
    have.owners = [tool, ALICE]
    assert plan_for(app, have) == []
    with pytest.raises(ManifestErrors) as caught:
        build_desired([make_app(owners=["carol@contoso.example"])], state(have))
    assert "owner 'carol@contoso.example': no such user in this tenant" in str(caught.value)
